/**
 * Emoji (SAS) verification of a person or one of your devices: requests received or started here
 * open a dialog that walks accept → compare the emoji → done, and says how it ended.
 */

import type { MatrixClient } from "matrix-js-sdk";
import {
  CryptoEvent,
  type ShowSasCallbacks,
  type VerificationRequest,
  VerificationRequestEvent,
  VerifierEvent,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from "react";
import { errorSentence } from "../lib/errors";
import { localpart } from "../lib/format";
import { verificationStep } from "../lib/trust";
import { buttonClass, plainButtonClass } from "./Panel";
import { useToast } from "./Toasts";

const Context = createContext<(request: VerificationRequest) => void>(() => undefined);

/** Show the dialog for a verification request started here. */
export function useShowVerification(): (request: VerificationRequest) => void {
  return useContext(Context);
}

export function VerificationProvider({ client, children }: { client: MatrixClient; children: ReactNode }) {
  const [request, setRequest] = useState<VerificationRequest | undefined>();
  useEffect(() => {
    const received = (r: VerificationRequest): void => setRequest(r);
    client.on(CryptoEvent.VerificationRequestReceived, received);
    return () => {
      client.off(CryptoEvent.VerificationRequestReceived, received);
    };
  }, [client]);
  return (
    <Context.Provider value={setRequest}>
      {children}
      {request && <VerificationDialog key={request.transactionId ?? request.otherUserId} client={client} request={request} onClose={() => setRequest(undefined)} />}
    </Context.Provider>
  );
}

function useRequestPhase(request: VerificationRequest): number {
  const [phase, setPhase] = useState(request.phase);
  useEffect(() => {
    const changed = (): void => setPhase(request.phase);
    request.on(VerificationRequestEvent.Change, changed);
    changed();
    return () => {
      request.off(VerificationRequestEvent.Change, changed);
    };
  }, [request]);
  return phase;
}

function VerificationDialog({ client, request, onClose }: { client: MatrixClient; request: VerificationRequest; onClose: () => void }) {
  const toast = useToast();
  const ref = useRef<HTMLDialogElement>(null);
  const phase = useRequestPhase(request);
  const [sas, setSas] = useState<ShowSasCallbacks | undefined>();
  const [confirmed, setConfirmed] = useState(false);
  const started = useRef(false);
  const self = request.isSelfVerification;
  const other = self ? "your other device" : (client.getUser(request.otherUserId)?.displayName ?? localpart(request.otherUserId));

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  useEffect(() => {
    const fail = (err: unknown): void => toast(errorSentence(err, "verify"), "error");
    if (phase === 3 && request.initiatedByMe && !started.current) {
      started.current = true;
      request.startVerification("m.sas.v1").catch(fail);
    }
    const verifier = request.verifier;
    if (phase === 4 && verifier && !sas) {
      verifier.on(VerifierEvent.ShowSas, setSas);
      const shown = verifier.getShowSasCallbacks();
      if (shown) setSas(shown);
      verifier.verify().catch(() => undefined);
      return () => {
        verifier.off(VerifierEvent.ShowSas, setSas);
      };
    }
    if (phase === 6) toast(self ? "This device is verified." : `${other} is verified.`, "success");
    return undefined;
  }, [phase, request, sas, toast, self, other]);

  function close(): void {
    if (phase < 5) request.cancel().catch(() => undefined);
    onClose();
  }

  return (
    <dialog ref={ref} onClose={close} aria-label="Verify" className="m-auto w-[min(28rem,94vw)] rounded-xl bg-white p-4 text-slate-900 shadow-xl backdrop:bg-black/40 dark:bg-slate-800 dark:text-slate-100">
      <h2 className="text-lg font-semibold">{self ? "Verify your device" : `Verify ${other}`}</h2>
      <p className="mt-2 text-sm" aria-live="polite">{confirmed && phase === 4 ? `Waiting for ${other} to confirm…` : verificationStep(phase, request.initiatedByMe, other)}</p>
      {phase === 4 && sas?.sas.emoji && (
        <ol aria-label="Emoji to compare" className="my-3 grid grid-cols-4 gap-2 text-center">
          {sas.sas.emoji.map(([emoji, name], i) => (
            <li key={i} className="rounded-lg bg-slate-100 p-1 dark:bg-slate-700">
              <span aria-hidden="true" className="block text-3xl">{emoji}</span>
              <span className="text-xs">{name}</span>
            </li>
          ))}
        </ol>
      )}
      <div className="mt-4 flex flex-wrap justify-end gap-2">
        {phase <= 2 && !request.initiatedByMe && (
          <button type="button" className={buttonClass} onClick={() => request.accept().catch((e: unknown) => toast(errorSentence(e, "accept"), "error"))}>
            Accept
          </button>
        )}
        {phase === 4 && sas && !confirmed && (
          <>
            <button type="button" className={plainButtonClass} onClick={() => sas.mismatch()}>They don’t match</button>
            <button type="button" className={buttonClass} onClick={() => { setConfirmed(true); sas.confirm().catch(() => undefined); }}>They match</button>
          </>
        )}
        <button type="button" className={plainButtonClass} onClick={close}>{phase >= 5 ? "Close" : "Cancel"}</button>
      </div>
    </dialog>
  );
}
