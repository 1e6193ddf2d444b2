import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { type IndexedMessage, SearchIndex, wordsOf } from "./searchIndex";

let opened: SearchIndex[] = [];
let n = 0;
async function fresh(now = 1_000): Promise<{ index: SearchIndex; name: string }> {
  const name = `test-index-${(n += 1)}`;
  const index = await SearchIndex.open(name, now);
  opened.push(index);
  return { index, name };
}

afterEach(() => {
  for (const i of opened) i.close();
  opened = [];
});

const msg = (eventId: string, body: string, extra: Partial<IndexedMessage> = {}): IndexedMessage => ({
  eventId,
  roomId: "!a:x",
  sender: "@u:x",
  body,
  ts: Number(eventId.replace(/\D/g, "")) || 1,
  ...extra,
});
const ids = (entries: { eventId: string }[]) => entries.map((e) => e.eventId);

describe("wordsOf", () => {
  it("folds case and accents and splits on anything but letters and digits", () => {
    expect(wordsOf("Crème BRÛLÉE, café-au-lait 42x!")).toEqual(["creme", "brulee", "cafe", "au", "lait", "42x"]);
  });
});

describe("SearchIndex", () => {
  it("finds messages whose words start with every query word, newest first", async () => {
    const { index } = await fresh();
    await index.put([msg("$1", "The quarterly report is late"), msg("$2", "Report sent, QUARTER closed"), msg("$3", "nothing here")]);
    expect(ids(await index.search("report quart", { now: 0 }))).toEqual(["$2", "$1"]);
    expect(ids(await index.search("REPORT late", { now: 0 }))).toEqual(["$1"]);
    expect(ids(await index.search("port", { now: 0 }))).toEqual([]);
    expect(await index.search("   ", { now: 0 })).toEqual([]);
  });

  it("persists across openings, and is gone once destroyed", async () => {
    const { index, name } = await fresh();
    await index.put([msg("$1", "kept across reloads")]);
    index.close();
    const again = await SearchIndex.open(name, 0);
    opened.push(again);
    expect(ids(await again.search("reloads", { now: 0 }))).toEqual(["$1"]);
    again.close();
    await SearchIndex.destroy(name);
    const empty = await SearchIndex.open(name, 0);
    opened.push(empty);
    expect(await empty.count()).toBe(0);
  });

  it("applies edits from the sender only, and forgets deleted messages", async () => {
    const { index } = await fresh();
    await index.put([msg("$1", "first draft"), msg("$2", "to be deleted")]);
    await index.edit("$1", "@mallory:x", "hijacked");
    await index.edit("$1", "@u:x", "final version");
    await index.edit("$9", "@u:x", "edit of an unknown message");
    expect(ids(await index.search("final", { now: 0 }))).toEqual(["$1"]);
    expect(ids(await index.search("draft", { now: 0 }))).toEqual([]);
    expect(ids(await index.search("hijacked", { now: 0 }))).toEqual([]);
    await index.remove(["$2"]);
    expect(ids(await index.search("deleted", { now: 0 }))).toEqual([]);
    expect(await index.count()).toBe(1);
  });

  it("filters by room and hides, then purges, expired messages", async () => {
    const { index, name } = await fresh();
    await index.put([msg("$1", "secret plan", { expiresAt: 500 }), msg("$2", "secret plan", { roomId: "!b:x" })]);
    expect(ids(await index.search("secret", { now: 100 }))).toEqual(["$2", "$1"]);
    expect(ids(await index.search("secret", { now: 100, rooms: new Set(["!a:x"]) }))).toEqual(["$1"]);
    expect(ids(await index.search("secret", { now: 600 }))).toEqual(["$2"]);
    index.close();
    const later = await SearchIndex.open(name, 600);
    opened.push(later);
    expect(await later.count()).toBe(1);
  });

  it("returns a message once even when several of its words match", async () => {
    const { index } = await fresh();
    await index.put([msg("$1", "good goods goodness")]);
    expect(ids(await index.search("good", { now: 0 }))).toEqual(["$1"]);
  });
});
