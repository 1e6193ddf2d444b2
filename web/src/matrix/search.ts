/**
 * Searching messages: the server's /search for rooms that are not encrypted (when the server
 * offers it), and for encrypted rooms a local index of the messages decrypted in this browser
 * (the server cannot read them). The local index covers what this session has loaded.
 */

import { EventType, type MatrixClient, type Room } from "matrix-js-sdk";
import { type SearchEntry, searchEntries } from "../lib/search";
import { expiresAt } from "../lib/selfDestruct";

/** Text messages this browser holds in clear, edits applied, deleted and expired ones left out. */
export function localEntries(client: MatrixClient, rooms: Room[] = client.getRooms()): SearchEntry[] {
  const now = Date.now();
  const out: SearchEntry[] = [];
  for (const room of rooms) {
    for (const e of room.getLiveTimeline().getEvents()) {
      if (e.getType() !== EventType.RoomMessage || e.isRedacted() || e.isRelation("m.replace")) continue;
      const content = e.getContent();
      const at = expiresAt(content);
      if (typeof content.body !== "string" || (at !== undefined && at <= now)) continue;
      out.push({ roomId: room.roomId, eventId: e.getId() ?? "", sender: e.getSender() ?? "", body: content.body, ts: e.getTs() });
    }
  }
  return out;
}

async function serverEntries(client: MatrixClient, query: string, rooms: Room[]): Promise<SearchEntry[]> {
  if (!rooms.length) return [];
  const response = await client.search({
    body: {
      search_categories: {
        room_events: { search_term: query, keys: ["content.body"], filter: { rooms: rooms.map((r) => r.roomId) } as never, order_by: "recent" as never },
      },
    },
  });
  const results = response.search_categories.room_events?.results ?? [];
  return results.map((r) => ({
    roomId: r.result.room_id ?? "",
    eventId: r.result.event_id ?? "",
    sender: r.result.sender ?? "",
    body: String(r.result.content?.body ?? ""),
    ts: r.result.origin_server_ts ?? 0,
  }));
}

/** Messages matching `query` in every joined room, newest first; `usedServer` says whether the
 * server answered for the unencrypted rooms. */
export async function searchMessages(client: MatrixClient, query: string): Promise<{ results: SearchEntry[]; usedServer: boolean }> {
  const joined = client.getRooms().filter((r) => r.getMyMembership() === "join");
  const plain = joined.filter((r) => !r.hasEncryptionStateEvent());
  let fromServer: SearchEntry[] = [];
  let usedServer = false;
  try {
    fromServer = await serverEntries(client, query, plain);
    usedServer = plain.length > 0;
  } catch {
    // The server has no search (or refused it): the local index covers those rooms too.
  }
  const local = localEntries(client, usedServer ? joined.filter((r) => r.hasEncryptionStateEvent()) : joined);
  return { results: searchEntries([...fromServer, ...local], query), usedServer };
}
