/**
 * The signed-in session, kept in IndexedDB beside the crypto store so a reload resumes it.
 * Holds the access token: it never leaves this origin's storage.
 */

export interface Session {
  baseUrl: string;
  userId: string;
  deviceId: string;
  accessToken: string;
}

const DB = "tessera-session";
const STORE = "session";
const KEY = "current";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB is unavailable"));
  });
}

async function run<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = body(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
    });
  } finally {
    db.close();
  }
}

/** The saved session, or undefined. */
export async function loadSession(): Promise<Session | undefined> {
  const value = (await run("readonly", (s) => s.get(KEY))) as unknown;
  return isSession(value) ? value : undefined;
}

export async function saveSession(session: Session): Promise<void> {
  await run("readwrite", (s) => s.put(session, KEY));
}

export async function clearSession(): Promise<void> {
  await run("readwrite", (s) => s.delete(KEY));
}

function isSession(v: unknown): v is Session {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return ["baseUrl", "userId", "deviceId", "accessToken"].every((k) => typeof s[k] === "string");
}
