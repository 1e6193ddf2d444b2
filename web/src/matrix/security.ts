/**
 * Cross-signing, secure key backup and recovery with the Rust crypto stack.
 *
 * The recovery key is the secret storage key: made in this browser, shown once, and held in
 * memory only while an operation needs it (the SDK asks for it through `getSecretStorageKey`).
 */

import type { AuthDict, MatrixClient, UIAuthCallback } from "matrix-js-sdk";
import { decodeRecoveryKey, type CryptoCallbacks } from "matrix-js-sdk/lib/crypto-api/index.js";
import { Sentence } from "../lib/errors";

/** The secret storage key the SDK may ask for during the current operation. */
export class SecretKeyHolder {
  private key: Uint8Array | undefined;
  private keyId: string | undefined;

  set(key: Uint8Array | undefined, keyId?: string): void {
    this.key = key;
    this.keyId = keyId;
  }

  /** The callbacks to give `createClient`. */
  callbacks(): CryptoCallbacks {
    return {
      getSecretStorageKey: async ({ keys }) => {
        if (!this.key) return null;
        const id = this.keyId && keys[this.keyId] ? this.keyId : Object.keys(keys)[0];
        return id ? [id, this.key] : null;
      },
      cacheSecretStorageKey: (keyId, _info, key) => this.set(key, keyId),
    };
  }
}

const holders = new WeakMap<MatrixClient, SecretKeyHolder>();

export function registerHolder(client: MatrixClient, holder: SecretKeyHolder): void {
  holders.set(client, holder);
}

function holderOf(client: MatrixClient): SecretKeyHolder {
  const holder = holders.get(client);
  if (!holder) throw new Sentence("This session cannot use secret storage.");
  return holder;
}

/** A UIA callback that answers a password challenge with `password`. */
export function passwordAuth(client: MatrixClient, password: string): UIAuthCallback<void> {
  return async (makeRequest) => {
    try {
      await makeRequest(null);
    } catch (err) {
      const session = (err as { data?: { session?: unknown } }).data?.session;
      if (typeof session !== "string") throw err;
      const auth = { type: "m.login.password", identifier: { type: "m.id.user", user: client.getUserId() }, password, session } as AuthDict;
      await makeRequest(auth);
    }
  };
}

/**
 * At sign-in: make the account's cross-signing keys if it has none yet (the first device),
 * signed with the password the person just typed. A later device is verified instead.
 */
export async function setUpCrossSigning(client: MatrixClient, password: string): Promise<boolean> {
  const crypto = client.getCrypto();
  if (!crypto || (await crypto.userHasCrossSigningKeys(client.getUserId() ?? undefined, true))) return false;
  await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth(client, password) });
  return true;
}

export interface SecurityStatus {
  crossSigningReady: boolean;
  backupVersion: string | null;
  secretStorageReady: boolean;
  deviceVerified: boolean;
}

export async function securityStatus(client: MatrixClient): Promise<SecurityStatus> {
  const crypto = client.getCrypto();
  if (!crypto) return { crossSigningReady: false, backupVersion: null, secretStorageReady: false, deviceVerified: false };
  const device = await crypto.getDeviceVerificationStatus(client.getUserId() ?? "", client.getDeviceId() ?? "");
  return {
    crossSigningReady: await crypto.isCrossSigningReady(),
    backupVersion: await crypto.getActiveSessionBackupVersion(),
    secretStorageReady: await crypto.isSecretStorageReady(),
    deviceVerified: device?.crossSigningVerified ?? false,
  };
}

/**
 * Turn on secure key backup: a new recovery key (returned to be shown once), secret storage
 * holding the cross-signing keys and the backup key, and a new server-side key backup.
 */
export async function setUpKeyBackup(client: MatrixClient): Promise<string> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Sentence("Encryption is not available in this browser.");
  const holder = holderOf(client);
  const recovery = await crypto.createRecoveryKeyFromPassphrase();
  holder.set(recovery.privateKey);
  try {
    await crypto.bootstrapSecretStorage({
      createSecretStorageKey: async () => recovery,
      setupNewSecretStorage: true,
      setupNewKeyBackup: true,
    });
  } finally {
    holder.set(undefined);
  }
  await crypto.checkKeyBackupAndEnable();
  if (!recovery.encodedPrivateKey) throw new Sentence("The recovery key could not be made.");
  return recovery.encodedPrivateKey;
}

/**
 * On a new device: unlock secret storage with the recovery key, trust this device through the
 * cross-signing keys, and restore the room keys from the backup. Returns the number restored.
 */
export async function restoreWithRecoveryKey(client: MatrixClient, recoveryKey: string): Promise<number> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Sentence("Encryption is not available in this browser.");
  let key: Uint8Array;
  try {
    key = decodeRecoveryKey(recoveryKey.trim());
  } catch {
    throw new Sentence("That is not a recovery key. Check it and try again.");
  }
  const holder = holderOf(client);
  holder.set(key);
  try {
    await crypto.bootstrapCrossSigning({});
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    await crypto.checkKeyBackupAndEnable();
    const result = await crypto.restoreKeyBackup();
    return result.imported;
  } finally {
    holder.set(undefined);
  }
}
