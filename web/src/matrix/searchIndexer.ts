/**
 * Keeps the persistent search index (`lib/searchIndex`) up to date with what this browser
 * receives and decrypts: every message of every room as it arrives (live, paged back, or
 * decrypted later), edits, deletions and self-destruct times. Writes are batched.
 */

import { EventType, type MatrixClient, type MatrixEvent, MatrixEventEvent, type Room, RoomEvent } from "matrix-js-sdk";
import { type IndexedMessage, SearchIndex } from "../lib/searchIndex";
import type { SearchEntry } from "../lib/search";
import { stripReplyFallback } from "../lib/relations";
import { expiresAt } from "../lib/selfDestruct";
import { loadedEvents } from "./history";

const FLUSH_MS = 250;

/** The IndexedDB database holding `userId`'s index. */
export function indexName(userId: string): string {
  return `tessera-search:${userId}`;
}

type Change = { put: IndexedMessage } | { edit: { eventId: string; sender: string; body: string } } | { remove: string };

/** What indexing `event` means: a message to add, an edit, a removal, or nothing. */
export function changeFor(event: MatrixEvent): Change | undefined {
  const id = event.getId();
  if (!id?.startsWith("$") || event.isDecryptionFailure() || event.isBeingDecrypted()) return undefined;
  if (event.getType() === EventType.RoomRedaction) {
    const redacts = event.event.redacts ?? (event.getContent().redacts as string | undefined);
    return typeof redacts === "string" ? { remove: redacts } : undefined;
  }
  if (event.getType() !== EventType.RoomMessage) return undefined;
  if (event.isRedacted()) return { remove: id };
  const original = event.getOriginalContent();
  const relation = original["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined;
  if (relation?.rel_type === "m.replace") {
    const body = (original["m.new_content"] as { body?: unknown } | undefined)?.body;
    return typeof relation.event_id === "string" && typeof body === "string" ? { edit: { eventId: relation.event_id, sender: event.getSender() ?? "", body } } : undefined;
  }
  const content = event.getContent(); // with the latest edit the client has applied
  if (typeof content.body !== "string") return undefined;
  const at = expiresAt(original);
  return {
    put: {
      eventId: id,
      roomId: event.getRoomId() ?? "",
      sender: event.getSender() ?? "",
      body: event.replyEventId ? stripReplyFallback(content.body) : content.body,
      ts: event.getTs(),
      ...(at === undefined ? {} : { expiresAt: at }),
    },
  };
}

export class SearchIndexer {
  private queue: Change[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onEvent = (event: MatrixEvent): void => this.add(event);

  private constructor(
    private readonly client: MatrixClient,
    private readonly index: SearchIndex,
  ) {}

  /** Open the signed-in person's index, index what is loaded, and follow new events. */
  static async start(client: MatrixClient): Promise<SearchIndexer> {
    const index = await SearchIndex.open(indexName(client.getUserId() ?? ""), Date.now());
    const indexer = new SearchIndexer(client, index);
    for (const room of client.getRooms()) for (const e of loadedEvents(room)) indexer.add(e);
    client.on(RoomEvent.Timeline, indexer.onEvent);
    client.on(RoomEvent.Redaction, indexer.onEvent);
    client.on(RoomEvent.LocalEchoUpdated, indexer.onEvent);
    client.on(MatrixEventEvent.Decrypted, indexer.onEvent);
    return indexer;
  }

  stop(): void {
    this.client.off(RoomEvent.Timeline, this.onEvent);
    this.client.off(RoomEvent.Redaction, this.onEvent);
    this.client.off(RoomEvent.LocalEchoUpdated, this.onEvent);
    this.client.off(MatrixEventEvent.Decrypted, this.onEvent);
    void this.flush().finally(() => this.index.close());
  }

  private add(event: MatrixEvent): void {
    const change = changeFor(event);
    if (!change) return;
    this.queue.push(change);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Write what is queued (in order: messages, then edits, then removals). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(async () => {
      if (!batch.length) return;
      await this.index.put(batch.flatMap((c) => ("put" in c ? [c.put] : [])));
      for (const c of batch) if ("edit" in c) await this.index.edit(c.edit.eventId, c.edit.sender, c.edit.body);
      await this.index.remove(batch.flatMap((c) => ("remove" in c ? [c.remove] : [])));
    }).catch(() => undefined); // a failed write loses only index entries, never messages
    return this.writing;
  }

  /** Messages matching `query` in `rooms`, newest first (after writing what is queued). */
  async search(query: string, rooms: Room[]): Promise<SearchEntry[]> {
    await this.flush();
    return this.index.search(query, { now: Date.now(), rooms: new Set(rooms.map((r) => r.roomId)) });
  }
}
