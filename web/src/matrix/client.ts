/**
 * Starting and stopping the Matrix client for a session: Rust crypto with its store in
 * IndexedDB (so keys made in this browser survive reloads), then sync.
 */

import { ClientEvent, createClient, type MatrixClient, type MatrixEvent, type Room, SyncState } from "matrix-js-sdk";
import { SELF_DESTRUCT, SELF_DESTRUCT_AFTER } from "../lib/selfDestruct";
import { registerHolder, SecretKeyHolder } from "./security";
import { SearchIndex } from "../lib/searchIndex";
import { indexName } from "./searchIndexer";
import { clearSession, type Session } from "./session";

/** A started client for `session`, resolved once the first sync has arrived. */
export async function startClient(session: Session): Promise<MatrixClient> {
  const holder = new SecretKeyHolder();
  const client = createClient({
    cryptoCallbacks: holder.callbacks(),
    baseUrl: session.baseUrl,
    userId: session.userId,
    deviceId: session.deviceId,
    accessToken: session.accessToken,
    timelineSupport: true,
  });
  registerHolder(client, holder);
  await client.initRustCrypto({ useIndexedDB: true });
  exposeSelfDestruct(client);
  const firstSync = new Promise<void>((resolve) => {
    const onSync = (state: SyncState): void => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: true });
  await firstSync;
  return client;
}

/**
 * The homeserver deletes a self-destructing message at its time only if it can read the time; in
 * an encrypted room the content is ciphertext, so the self-destruct fields are copied to the
 * clear part of the encrypted event (the body stays encrypted). matrix-js-sdk offers no hook
 * between encrypting and sending, so its crypto backend's `encryptEvent` is wrapped.
 */
function exposeSelfDestruct(client: MatrixClient): void {
  const backend = client.getCrypto() as unknown as { encryptEvent?: (event: MatrixEvent, room: Room) => Promise<void> } | undefined;
  const encrypt = backend?.encryptEvent?.bind(backend);
  if (!backend || !encrypt) return;
  backend.encryptEvent = async (event, room) => {
    await encrypt(event, room);
    const clear = event.getClearContent() ?? {};
    const wire = event.getWireContent();
    for (const key of [SELF_DESTRUCT_AFTER, SELF_DESTRUCT]) if (typeof clear[key] === "number") wire[key] = clear[key];
  };
}

/** Sign out: end the session on the server (best effort), then forget everything local: the
 * session, the crypto store and the search index of decrypted messages. */
export async function signOut(client: MatrixClient): Promise<void> {
  const index = indexName(client.getUserId() ?? "");
  try {
    await client.logout(true);
  } catch {
    client.stopClient(); // the token may already be gone; still clear local state
  }
  await client.clearStores();
  await SearchIndex.destroy(index).catch(() => undefined);
  await clearSession();
}

/** The server name part of our user ID. */
export function serverNameOf(client: MatrixClient): string {
  const userId = client.getUserId() ?? "";
  return userId.slice(userId.indexOf(":") + 1);
}
