/**
 * Signing files with this device's Ed25519 key and looking up the keys of a sender's devices,
 * for the signed file events of `lib/signedFiles`.
 *
 * matrix-js-sdk has no public call to sign arbitrary data with the device key; its Rust crypto
 * keeps the `OlmMachine` (which has `sign(message)`) on the crypto object, so it is read from
 * there. Without it (no crypto), files go out unsigned.
 */

import type { MatrixClient } from "matrix-js-sdk";
import { buildSignedFile, type DeviceKey, type SignedFile } from "../lib/signedFiles";

interface Signer {
  sign(message: string): Promise<{ asJSON(): string; free?(): void }>;
}

function signer(client: MatrixClient): Signer | undefined {
  const machine = (client.getCrypto() as unknown as { olmMachine?: Signer } | undefined)?.olmMachine;
  return typeof machine?.sign === "function" ? machine : undefined;
}

/** The signed-file claims for `plaintext` sent to `roomId`, or undefined when this session
 * cannot sign. */
export async function signFile(client: MatrixClient, roomId: string, plaintext: ArrayBuffer, mimetype: string): Promise<SignedFile | undefined> {
  const machine = signer(client);
  const sender = client.getUserId();
  const deviceId = client.getDeviceId();
  if (!machine || !sender || !deviceId) return undefined;
  return buildSignedFile(plaintext, { mimetype, roomId, sender, deviceId }, async (message) => {
    const signatures = await machine.sign(message);
    const all = JSON.parse(signatures.asJSON()) as Record<string, Record<string, string>>;
    signatures.free?.();
    const signature = all[sender]?.[`ed25519:${deviceId}`];
    if (!signature) throw new Error("This device could not sign the file.");
    return signature;
  });
}

/** A lookup of `sender`'s devices (their Ed25519 keys fetched from the server if not known). */
export function deviceKeys(client: MatrixClient, sender: string): (deviceId: string) => Promise<DeviceKey | undefined> {
  return async (deviceId) => {
    const crypto = client.getCrypto();
    if (!crypto) return undefined;
    const devices = (await crypto.getUserDeviceInfo([sender], true)).get(sender);
    const ed25519 = devices?.get(deviceId)?.getFingerprint();
    if (!ed25519) return undefined;
    return { ed25519, verified: await deviceVerified(client, sender, deviceId) };
  };
}

/** Whether `userId`'s device is verified (cross-signed by a verified identity, or locally). */
export async function deviceVerified(client: MatrixClient, userId: string, deviceId: string): Promise<boolean> {
  const status = await client.getCrypto()?.getDeviceVerificationStatus(userId, deviceId);
  return status?.isVerified() ?? false;
}
