/** Your devices: names, last seen, rename, and remove (confirmed with your password). */

import type { IMyDevice, MatrixClient } from "matrix-js-sdk";
import { useCallback, useEffect, useState } from "react";
import { errorSentence } from "../lib/errors";
import { formatClock } from "../lib/format";
import { Panel, plainButtonClass } from "./Panel";
import { PromptDialog } from "./PromptDialog";
import { useToast } from "./Toasts";
import { useShowVerification } from "./Verification";

type Pending = { kind: "rename" | "remove"; device: IMyDevice } | undefined;

/** The session ID of a user-interactive-auth challenge in an error, if the server sent one. */
function uiaSession(err: unknown): string | undefined {
  const data = (err as { data?: { session?: unknown; flows?: unknown } } | undefined)?.data;
  return typeof data?.session === "string" ? data.session : undefined;
}

export function Devices({ client, onClose }: { client: MatrixClient; onClose: () => void }) {
  const toast = useToast();
  const me = client.getUserId() ?? "";
  const [devices, setDevices] = useState<IMyDevice[] | undefined>();
  const [pending, setPending] = useState<Pending>();
  const [verified, setVerified] = useState<Record<string, boolean>>({});
  const showVerification = useShowVerification();
  const reload = useCallback(() => {
    client.getDevices().then(
      ({ devices }) => setDevices(devices.sort((a, b) => (b.last_seen_ts ?? 0) - (a.last_seen_ts ?? 0))),
      (err: unknown) => toast(errorSentence(err, "list your devices"), "error"),
    );
  }, [client, toast]);
  useEffect(reload, [reload]);
  useEffect(() => {
    const crypto = client.getCrypto();
    if (!crypto || !devices) return;
    void Promise.all(devices.map(async (d) => [d.device_id, (await crypto.getDeviceVerificationStatus(me, d.device_id))?.crossSigningVerified ?? false] as const)).then(
      (pairs) => setVerified(Object.fromEntries(pairs)),
      () => undefined,
    );
  }, [client, devices, me]);

  async function verify(device: IMyDevice): Promise<void> {
    try {
      const request = await client.getCrypto()?.requestDeviceVerification(me, device.device_id);
      if (request) showVerification(request);
    } catch (err) {
      toast(errorSentence(err, "start the verification"), "error");
    }
  }

  async function rename(device: IMyDevice, name: string): Promise<void> {
    try {
      await client.setDeviceDetails(device.device_id, { display_name: name.trim() });
      toast("Device renamed.", "success");
      reload();
    } catch (err) {
      toast(errorSentence(err, "rename the device"), "error");
    }
  }

  async function remove(device: IMyDevice, password: string): Promise<void> {
    try {
      let session: string | undefined;
      try {
        await client.deleteDevice(device.device_id);
      } catch (err) {
        session = uiaSession(err);
        if (!session) throw err;
        await client.deleteDevice(device.device_id, {
          type: "m.login.password",
          identifier: { type: "m.id.user", user: me },
          password,
          session,
        } as never);
      }
      toast(`${device.display_name ?? device.device_id} was signed out and removed.`, "success");
      reload();
    } catch (err) {
      toast(errorSentence(err, "remove the device"), "error");
    }
  }

  return (
    <Panel title="Your devices" onClose={onClose}>
      {!devices ? (
        <p className="text-sm text-slate-500">Loading…</p>
      ) : (
        <ul className="divide-y divide-slate-200 dark:divide-slate-700" aria-label="Devices">
          {devices.map((d) => {
            const current = d.device_id === client.getDeviceId();
            const name = d.display_name ?? d.device_id;
            return (
              <li key={d.device_id} className="flex flex-wrap items-center gap-2 py-2 text-sm">
                <span className="min-w-0 flex-1">
                  <span className="font-medium">{name}</span>
                  {current && <span className="ml-1 text-xs text-emerald-700 dark:text-emerald-300">(this device)</span>}
                  <span className="ml-1 text-xs">{verified[d.device_id] ? "· verified" : "· not verified"}</span>
                  <span className="block text-xs text-slate-500 dark:text-slate-400">
                    {d.device_id}
                    {d.last_seen_ts ? ` · last seen ${new Date(d.last_seen_ts).toLocaleDateString()} ${formatClock(d.last_seen_ts)}` : ""}
                  </span>
                </span>
                <button type="button" className={plainButtonClass} aria-label={`Rename ${name}`} onClick={() => setPending({ kind: "rename", device: d })}>Rename</button>
                {!current && !verified[d.device_id] && <button type="button" className={plainButtonClass} aria-label={`Verify ${name}`} onClick={() => void verify(d)}>Verify</button>}
                {!current && <button type="button" className={plainButtonClass} aria-label={`Remove ${name}`} onClick={() => setPending({ kind: "remove", device: d })}>Remove</button>}
              </li>
            );
          })}
        </ul>
      )}
      {pending?.kind === "rename" && (
        <PromptDialog title="Rename device" fields={[{ label: "Device name", name: "name", initial: pending.device.display_name ?? "" }]} submit="Rename" onClose={() => setPending(undefined)} onSubmit={(v) => void rename(pending.device, v.name ?? "")} />
      )}
      {pending?.kind === "remove" && (
        <PromptDialog title="Remove device" fields={[{ label: "Your password", name: "password", type: "password" }]} submit="Remove" onClose={() => setPending(undefined)} onSubmit={(v) => void remove(pending.device, v.password ?? "")} />
      )}
    </Panel>
  );
}
