/**
 * Security and key backup: cross-signing status, turning on secure backup (the recovery key is
 * shown once), restoring on a new device with the recovery key, verifying this device.
 */

import type { MatrixClient } from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { errorSentence } from "../lib/errors";
import { restoreWithRecoveryKey, securityStatus, type SecurityStatus, setUpKeyBackup } from "../matrix/security";
import { buttonClass, fieldClass, Panel, plainButtonClass } from "./Panel";
import { useToast } from "./Toasts";
import { useShowVerification } from "./Verification";

export function Security({ client, onClose }: { client: MatrixClient; onClose: () => void }) {
  const toast = useToast();
  const showVerification = useShowVerification();
  const [status, setStatus] = useState<SecurityStatus | undefined>();
  const [recoveryKey, setRecoveryKey] = useState<string | undefined>();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  // Refreshes can overlap (several events at once): only the latest one started may set the
  // status, so an older, slower answer never overwrites a newer one.
  const latest = useRef(0);
  const refresh = useCallback(() => {
    const mine = (latest.current += 1);
    void securityStatus(client).then((s) => mine === latest.current && setStatus(s), () => undefined);
  }, [client]);
  useEffect(() => {
    refresh();
    client.on(CryptoEvent.KeyBackupStatus, refresh);
    client.on(CryptoEvent.UserTrustStatusChanged, refresh);
    // This device's own cross-signature arrives with a device list update after a restore.
    client.on(CryptoEvent.DevicesUpdated, refresh);
    return () => {
      client.off(CryptoEvent.KeyBackupStatus, refresh);
      client.off(CryptoEvent.UserTrustStatusChanged, refresh);
      client.off(CryptoEvent.DevicesUpdated, refresh);
    };
  }, [client, refresh]);

  async function run(what: string, work: () => Promise<void>): Promise<void> {
    setBusy(true);
    try {
      await work();
    } catch (err) {
      toast(errorSentence(err, what), "error");
    } finally {
      setBusy(false);
      refresh();
    }
  }

  const setUp = (): Promise<void> => run("set up the key backup", async () => {
    setRecoveryKey(await setUpKeyBackup(client));
    toast("Key backup is on.", "success");
  });

  const restore = (e: FormEvent): Promise<void> => {
    e.preventDefault();
    return run("restore from the backup", async () => {
      const count = await restoreWithRecoveryKey(client, typed);
      setTyped("");
      toast(`Restored ${count} message ${count === 1 ? "key" : "keys"}. This device is verified.`, "success");
    });
  };

  const verifyDevice = (): Promise<void> => run("start the verification", async () => {
    const request = await client.getCrypto()?.requestOwnUserVerification();
    if (request) showVerification(request);
  });

  const line = (ok: boolean | undefined, yes: string, no: string) => (
    <li className={ok ? "text-emerald-700 dark:text-emerald-300" : "text-amber-700 dark:text-amber-300"}>{ok ? yes : no}</li>
  );

  return (
    <Panel title="Security and key backup" onClose={onClose}>
      {!status ? (
        <p className="text-sm">Checking…</p>
      ) : (
        <ul aria-label="Security status" className="space-y-1 text-sm">
          {line(status.crossSigningReady, "Cross-signing is set up on this device.", "Cross-signing is not set up on this device yet.")}
          {line(status.deviceVerified, "This device is verified.", "This device is not verified: verify it with another device or your recovery key.")}
          {line(status.backupVersion !== null, `Key backup is on (version ${status.backupVersion ?? ""}).`, "Key backup is off: without it, a new device cannot read old messages.")}
        </ul>
      )}
      {recoveryKey && (
        <section aria-label="Your recovery key" className="space-y-2 rounded-lg border border-amber-400 bg-amber-50 p-3 text-sm dark:bg-amber-950">
          <p>Save this recovery key somewhere safe, such as a password manager. It is shown only once, and it is the only way to read old messages on a new device if you have no other device.</p>
          <p className="select-all break-all rounded bg-white p-2 font-mono text-slate-900" data-testid="recovery-key">{recoveryKey}</p>
          <div className="flex gap-2">
            <button type="button" className={plainButtonClass} onClick={() => void navigator.clipboard?.writeText(recoveryKey).then(() => toast("Recovery key copied.", "info"), () => undefined)}>Copy</button>
            <button type="button" className={buttonClass} onClick={() => { setRecoveryKey(undefined); refresh(); }}>I have saved it</button>
          </div>
        </section>
      )}
      {status && !recoveryKey && (
        <div className="flex flex-wrap gap-2">
          {(status.backupVersion === null || !status.secretStorageReady) && status.crossSigningReady && (
            <button type="button" disabled={busy} className={buttonClass} onClick={() => void setUp()}>Set up key backup</button>
          )}
          {!status.deviceVerified && (
            <button type="button" disabled={busy} className={plainButtonClass} onClick={() => void verifyDevice()}>Verify with another device</button>
          )}
        </div>
      )}
      {status && (!status.deviceVerified || !status.crossSigningReady) && (
        <form onSubmit={(e) => void restore(e)} className="space-y-2">
          <label className="block space-y-1">
            <span className="text-sm font-medium">Recovery key</span>
            <input className={`${fieldClass} font-mono`} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
          </label>
          <button type="submit" disabled={busy || !typed.trim()} className={buttonClass}>Restore from backup</button>
        </form>
      )}
    </Panel>
  );
}
