import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { takeShare } from "./share";

function keep(value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("tessera-share", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("pending");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("pending", "readwrite");
      tx.objectStore("pending").put(value, "current");
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
    };
  });
}

describe("takeShare", () => {
  it("returns what the service worker kept, once", async () => {
    await keep({ title: "Hi", text: "look", url: "https://x.org", files: [], at: 1_000 });
    expect(await takeShare(2_000)).toEqual({ text: "Hi\nlook\nhttps://x.org", files: [] });
    expect(await takeShare(2_000)).toBeUndefined();
  });
  it("drops a stale or empty share", async () => {
    await keep({ title: "old", text: "", url: "", files: [], at: 0 });
    expect(await takeShare(2 * 60 * 60 * 1000)).toBeUndefined();
    await keep({ title: 5, files: "nope", at: 10 });
    expect(await takeShare(20)).toBeUndefined();
  });
});
