/**
 * Searching messages. The server's `/search` answers for rooms that are not encrypted, when the
 * server offers it (Tessera does not today: a refusal is remembered for the session). Everything
 * else — encrypted rooms always, and every room without server search — is searched in the
 * browser, in the persistent index of the messages it has received and decrypted
 * (`searchIndexer`), or, where IndexedDB is unavailable, in the messages loaded in memory.
 */

import { EventType, type MatrixClient, type Room } from "matrix-js-sdk";
import { type SearchEntry, searchEntries } from "../lib/search";
import { expiresAt } from "../lib/selfDestruct";
import { loadedEvents } from "./history";
import type { SearchIndexer } from "./searchIndexer";

/** Text messages loaded in memory, edits applied, deleted and expired ones left out. */
export function localEntries(client: MatrixClient, rooms: Room[] = client.getRooms()): SearchEntry[] {
  const now = Date.now();
  const out: SearchEntry[] = [];
  for (const room of rooms) {
    for (const e of loadedEvents(room)) {
      if (e.getType() !== EventType.RoomMessage || e.isRedacted() || e.isRelation("m.replace")) continue;
      const content = e.getContent();
      const at = expiresAt(content);
      if (typeof content.body !== "string" || (at !== undefined && at <= now)) continue;
      out.push({ roomId: room.roomId, eventId: e.getId() ?? "", sender: e.getSender() ?? "", body: content.body, ts: e.getTs() });
    }
  }
  return out;
}

/** Whether the server answered `/search` (undefined until asked), per client. */
const serverSearch = new WeakMap<MatrixClient, boolean>();

async function serverEntries(client: MatrixClient, query: string, rooms: Room[]): Promise<SearchEntry[] | undefined> {
  if (!rooms.length || serverSearch.get(client) === false) return undefined;
  let response;
  try {
    response = await client.search({
      body: {
        search_categories: {
          room_events: { search_term: query, keys: ["content.body"], filter: { rooms: rooms.map((r) => r.roomId) } as never, order_by: "recent" as never },
        },
      },
    });
  } catch (err) {
    const code = (err as { errcode?: string; httpStatus?: number }) ?? {};
    if (code.errcode === "M_UNRECOGNIZED" || code.httpStatus === 404 || code.httpStatus === 405) serverSearch.set(client, false);
    return undefined;
  }
  serverSearch.set(client, true);
  const results = response.search_categories.room_events?.results ?? [];
  return results.map((r) => ({
    roomId: r.result.room_id ?? "",
    eventId: r.result.event_id ?? "",
    sender: r.result.sender ?? "",
    body: String(r.result.content?.body ?? ""),
    ts: r.result.origin_server_ts ?? 0,
  }));
}

/** Where a search looked: the server for unencrypted rooms and the browser for the rest; only
 * the browser because every room is encrypted; or only the browser because the server did not
 * answer (it has no search, or refused this one). */
export type SearchSource = "server" | "encrypted-only" | "no-server";

/** Messages matching `query` in every joined room, newest first, and where they were looked for. */
export async function searchMessages(client: MatrixClient, query: string, indexer?: SearchIndexer): Promise<{ results: SearchEntry[]; source: SearchSource }> {
  const joined = client.getRooms().filter((r) => r.getMyMembership() === "join");
  const plain = joined.filter((r) => !r.hasEncryptionStateEvent());
  const fromServer = await serverEntries(client, query, plain);
  const inBrowser = fromServer ? joined.filter((r) => r.hasEncryptionStateEvent()) : joined;
  const local = indexer ? await indexer.search(query, inBrowser) : searchEntries(localEntries(client, inBrowser), query);
  const source: SearchSource = fromServer ? "server" : plain.length ? "no-server" : "encrypted-only";
  return { results: searchEntries([...(fromServer ?? []), ...local], query), source };
}
