/**
 * What another app shared into Tessera (the PWA share target). A GET share carries text in the
 * URL (`title`, `text`, `url`); a POST share with files is received by the service worker
 * (public/sw.js), which keeps it in IndexedDB ("tessera-share") and opens `/?shared=1`. The app
 * takes it from there once: reading deletes it.
 */

export interface Shared {
  text: string;
  files: File[];
}

const DB = "tessera-share";
const STORE = "pending";
const KEY = "current";
/** A share older than this was abandoned; it is dropped, not offered. */
const FRESH_MS = 60 * 60 * 1000;

/** Text for the composer from the shared `title`, `text` and `url` (duplicates dropped). */
export function sharedText(params: { get(name: string): string | null }): string {
  const parts = ["title", "text", "url"]
    .map((k) => params.get(k)?.trim() ?? "")
    .filter((v, i, all) => v !== "" && all.indexOf(v) === i);
  return parts.join("\n");
}

/** The share the service worker kept, removed from storage; undefined if none (or stale). */
export async function takeShare(now: number, factory: IDBFactory = indexedDB): Promise<Shared | undefined> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB is unavailable"));
  });
  try {
    const value = await new Promise<unknown>((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      const req = store.get(KEY);
      req.onsuccess = () => store.delete(KEY);
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    });
    if (typeof value !== "object" || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (typeof v.at !== "number" || now - v.at > FRESH_MS) return undefined;
    const fields = { get: (name: string) => (typeof v[name] === "string" ? (v[name] as string) : null) };
    const files = Array.isArray(v.files) ? v.files.filter((f): f is File => f instanceof Blob && typeof (f as File).name === "string") : [];
    const text = sharedText(fields);
    return text || files.length ? { text, files } : undefined;
  } finally {
    db.close();
  }
}
