/**
 * A persistent full-text index of messages in IndexedDB, for searching encrypted rooms in the
 * browser (the server cannot read them) and any room when the server offers no search.
 *
 * One record per message, keyed by event ID, with its words (lower case, accents removed) in a
 * multi-entry index. A query's words must each start a word of the message; the longest one
 * picks the candidates through the index, the others filter them. An edit replaces the body of
 * the message it edits (only when both come from the same sender); a deleted message is removed;
 * a self-destructing one is never returned after it expires and is purged when the index opens.
 * Records hold message text in clear, so the index is deleted when the person signs out.
 */

import { fold, queryTerms, type SearchEntry } from "./search";

const STORE = "messages";
const VERSION = 1;

export interface IndexedMessage extends SearchEntry {
  /** When the message self-destructs (ms since the epoch), if it does. */
  expiresAt?: number;
}

interface StoredMessage extends IndexedMessage {
  words: string[];
}

/** The distinct words of `text` for the index: letters and digits, folded. */
export function wordsOf(text: string): string[] {
  return [...new Set(fold(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean))];
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

export class SearchIndex {
  private constructor(private readonly db: IDBDatabase) {
    // Deleting the index (signing out) must not wait for this connection.
    db.onversionchange = () => db.close();
  }

  /** Open (creating if needed) the index `name`, and purge what has expired by `now`. */
  static async open(name: string, now: number, factory: IDBFactory = indexedDB): Promise<SearchIndex> {
    const req = factory.open(name, VERSION);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: "eventId" });
      store.createIndex("words", "words", { multiEntry: true });
      store.createIndex("expiresAt", "expiresAt");
    };
    const index = new SearchIndex(await request(req));
    await index.purgeExpired(now);
    return index;
  }

  /** Delete the index `name` and everything in it. */
  static async destroy(name: string, factory: IDBFactory = indexedDB): Promise<void> {
    await request(factory.deleteDatabase(name));
  }

  close(): void {
    this.db.close();
  }

  /** Add or replace messages. */
  async put(messages: IndexedMessage[]): Promise<void> {
    if (!messages.length) return;
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const m of messages) store.put({ ...m, words: wordsOf(m.body) } satisfies StoredMessage);
    await done(tx);
  }

  /** Replace the body of `eventId` with an edit by `sender`, if the message is indexed and is
   * theirs. */
  async edit(eventId: string, sender: string, body: string): Promise<void> {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const req = store.get(eventId);
    req.onsuccess = () => {
      const found = req.result as StoredMessage | undefined;
      if (found && found.sender === sender) store.put({ ...found, body, words: wordsOf(body) });
    };
    await done(tx);
  }

  async remove(eventIds: string[]): Promise<void> {
    if (!eventIds.length) return;
    const tx = this.db.transaction(STORE, "readwrite");
    for (const id of eventIds) tx.objectStore(STORE).delete(id);
    await done(tx);
  }

  async count(): Promise<number> {
    return request(this.db.transaction(STORE).objectStore(STORE).count());
  }

  /** Delete the self-destructing messages whose time has come. */
  async purgeExpired(now: number): Promise<void> {
    const tx = this.db.transaction(STORE, "readwrite");
    const range = IDBKeyRange.upperBound(now);
    const req = tx.objectStore(STORE).index("expiresAt").openCursor(range);
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return;
      cursor.delete();
      cursor.continue();
    };
    await done(tx);
  }

  /**
   * Messages whose words start with every word of `query`, newest first.
   *
   * @param rooms - only these rooms, when given.
   */
  async search(query: string, options: { now: number; rooms?: Set<string>; limit?: number }): Promise<SearchEntry[]> {
    const terms = [...new Set(queryTerms(query).flatMap(wordsOf))];
    if (!terms.length) return [];
    const pivot = terms.reduce((a, b) => (b.length > a.length ? b : a));
    const tx = this.db.transaction(STORE);
    const candidates = (await request(tx.objectStore(STORE).index("words").getAll(IDBKeyRange.bound(pivot, `${pivot}\uffff`)))) as StoredMessage[];
    const seen = new Set<string>();
    const out: SearchEntry[] = [];
    for (const m of candidates) {
      if (seen.has(m.eventId)) continue;
      seen.add(m.eventId);
      if (options.rooms && !options.rooms.has(m.roomId)) continue;
      if (m.expiresAt !== undefined && m.expiresAt <= options.now) continue;
      if (!terms.every((t) => m.words.some((w) => w.startsWith(t)))) continue;
      out.push({ roomId: m.roomId, eventId: m.eventId, sender: m.sender, body: m.body, ts: m.ts });
    }
    return out.sort((a, b) => b.ts - a.ts).slice(0, options.limit ?? 50);
  }
}
