import { describe, expect, it } from "vitest";
import { AttachmentIntegrityError, decryptAttachment, encryptAttachment, fromBase64, msgtypeFor, parseMxc, toBase64 } from "./attachments";
import { errorSentence, sentence } from "./errors";
import { dayLabel, fitWithin, formatBytes, formatCountdown, presenceLabel, toUserId } from "./format";
import { filterRooms, type RoomSummary, sortRooms, unreadBadge } from "./rooms";
import { sharedText } from "./share";
import { expiresAt, isExpired, SELF_DESTRUCT, SELF_DESTRUCT_AFTER, withSelfDestruct } from "./selfDestruct";
import { authFor, chooseFlow, DUMMY, nextStage, TOKEN } from "./uia";

describe("errors", () => {
  it("words known errcodes", () => {
    expect(errorSentence({ errcode: "M_USER_IN_USE" })).toBe("That username is taken. Try another one.");
    expect(errorSentence({ data: { errcode: "M_LIMIT_EXCEEDED" } })).toMatch(/Too many attempts/);
  });
  it("says a wrong password plainly", () => {
    expect(errorSentence({ errcode: "M_FORBIDDEN", data: { error: "Invalid username or password" } })).toBe(
      "The username or password is wrong.",
    );
  });
  it("uses the server's text for unknown codes, as a sentence", () => {
    expect(errorSentence({ errcode: "M_WHATEVER", data: { error: "room is full" } })).toBe("Room is full.");
  });
  it("never shows a raw exception", () => {
    expect(errorSentence(new RangeError("x at y.js:1"), "send the message")).toBe("Could not send the message. Please try again.");
    expect(errorSentence(new TypeError("Failed to fetch"))).toMatch(/cannot be reached/);
    expect(sentence("  ok ")).toBe("Ok.");
  });
});

describe("format", () => {
  it("scales a picture down into a box, keeping its shape", () => {
    expect(fitWithin(1000, 750, 320, 240)).toEqual({ w: 320, h: 240 });
    expect(fitWithin(240, 2400, 320, 240)).toEqual({ w: 24, h: 240 });
    expect(fitWithin(5000, 1, 320, 240)).toEqual({ w: 320, h: 1 });
    expect(fitWithin(300, 200, 320, 240)).toBeUndefined();
    expect(fitWithin(0, 10, 320, 240)).toBeUndefined();
  });
  it("formats sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });
  it("formats countdowns", () => {
    expect(formatCountdown(45_000)).toBe("45s");
    expect(formatCountdown(245_000)).toBe("4m 05s");
    expect(formatCountdown(2 * 3600_000 + 180_000)).toBe("2h 03m");
    expect(formatCountdown(-5)).toBe("0s");
  });
  it("labels days", () => {
    const now = new Date(2026, 2, 10, 12).getTime();
    expect(dayLabel(now - 3600_000, now)).toBe("Today");
    expect(dayLabel(now - 86_400_000, now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 2, 3, 9).getTime(), now)).toBe("3 March 2026");
  });
  it("describes presence", () => {
    expect(presenceLabel("online", 0)).toBe("online");
    expect(presenceLabel("offline", 5 * 60_000)).toBe("offline, last seen 5 min ago");
    expect(presenceLabel(undefined, undefined)).toBe("offline");
  });
  it("completes user IDs", () => {
    expect(toUserId("bob", "example.org")).toBe("@bob:example.org");
    expect(toUserId(" @bob:other.org ", "example.org")).toBe("@bob:other.org");
    expect(toUserId("@bob", "example.org")).toBe("@bob:example.org");
  });
});

describe("self-destruct", () => {
  it("adds an absolute expiry", () => {
    expect(withSelfDestruct({ body: "x" }, 30_000, 1_000)).toEqual({ body: "x", [SELF_DESTRUCT_AFTER]: 31_000 });
    expect(withSelfDestruct({ body: "x" }, 0, 1_000)).toEqual({ body: "x" });
  });
  it("finds the earliest expiry", () => {
    expect(expiresAt({ [SELF_DESTRUCT_AFTER]: 5_000 })).toBe(5_000);
    expect(expiresAt({ [SELF_DESTRUCT]: 1_000 })).toBeUndefined();
    expect(expiresAt({ [SELF_DESTRUCT]: 1_000 }, 2_000)).toBe(3_000);
    expect(expiresAt({ [SELF_DESTRUCT_AFTER]: 9_000, [SELF_DESTRUCT]: 1_000 }, 2_000)).toBe(3_000);
    expect(expiresAt({ [SELF_DESTRUCT_AFTER]: "soon" })).toBeUndefined();
  });
  it("expires on time", () => {
    expect(isExpired({ [SELF_DESTRUCT_AFTER]: 5_000 }, 4_999)).toBe(false);
    expect(isExpired({ [SELF_DESTRUCT_AFTER]: 5_000 }, 5_000)).toBe(true);
  });
});

describe("registration UIA", () => {
  const flows = [{ stages: [TOKEN] }, { stages: [DUMMY] }, { stages: ["m.login.recaptcha"] }];
  it("prefers a flow without a token when there is none", () => {
    expect(chooseFlow(flows, false)).toEqual({ stages: [DUMMY] });
    expect(chooseFlow([{ stages: [TOKEN] }], false)).toEqual({ stages: [TOKEN] });
    expect(chooseFlow([{ stages: ["m.login.recaptcha"] }], true)).toBeUndefined();
  });
  it("walks the stages", () => {
    const flow = { stages: [TOKEN, DUMMY] };
    expect(nextStage(flow)).toBe(TOKEN);
    expect(nextStage(flow, [TOKEN])).toBe(DUMMY);
    expect(nextStage(flow, [TOKEN, DUMMY])).toBeUndefined();
    expect(authFor(TOKEN, "s1", "tok")).toEqual({ type: TOKEN, session: "s1", token: "tok" });
  });
});

describe("rooms", () => {
  const room = (id: string, extra: Partial<RoomSummary>): RoomSummary => ({
    roomId: id, name: id, kind: "group", unread: 0, highlights: 0, lastActivity: 0, encrypted: true, ...extra,
  });
  it("sorts invites, then unread, then recent", () => {
    const sorted = sortRooms([room("old", { lastActivity: 1 }), room("new", { lastActivity: 9 }), room("unread", { unread: 2 }), room("inv", { kind: "invite" })]);
    expect(sorted.map((r) => r.roomId)).toEqual(["inv", "unread", "new", "old"]);
  });
  it("filters by name and badges counts", () => {
    expect(filterRooms([room("Alpha", {}), room("beta", {})], "ALP").map((r) => r.name)).toEqual(["Alpha"]);
    expect(unreadBadge(0)).toBe("");
    expect(unreadBadge(150)).toBe("99+");
  });
  it("turns a share target into a draft", () => {
    expect(sharedText(new URLSearchParams("title=Hi&text=look&url=https://x.org"))).toBe("Hi\nlook\nhttps://x.org");
    expect(sharedText(new URLSearchParams("text=https://x.org&url=https://x.org"))).toBe("https://x.org");
  });
});

describe("encrypted attachments", () => {
  it("round-trips and checks the hash", async () => {
    const plain = new TextEncoder().encode("secret file contents").buffer;
    const { ciphertext, info } = await encryptAttachment(plain);
    expect(new Uint8Array(ciphertext)).not.toEqual(new Uint8Array(plain));
    expect(fromBase64(info.iv).slice(8)).toEqual(new Uint8Array(8));
    expect(new TextDecoder().decode(await decryptAttachment(ciphertext, info))).toBe("secret file contents");
  });
  it("refuses a tampered file", async () => {
    const { ciphertext, info } = await encryptAttachment(new Uint8Array([1, 2, 3]).buffer);
    const bad = new Uint8Array(ciphertext);
    bad[0] = bad[0]! ^ 1;
    await expect(decryptAttachment(bad.buffer, info)).rejects.toBeInstanceOf(AttachmentIntegrityError);
  });
  it("helps with base64, msgtypes and mxc URIs", () => {
    expect(toBase64(new Uint8Array([255, 254]))).toBe("//4");
    expect(fromBase64("__4")).toEqual(new Uint8Array([255, 254]));
    expect(msgtypeFor("image/png")).toBe("m.image");
    expect(msgtypeFor("application/pdf")).toBe("m.file");
    expect(parseMxc("mxc://localhost/abc_DEF-1")).toEqual({ serverName: "localhost", mediaId: "abc_DEF-1" });
    expect(parseMxc("https://x")).toBeUndefined();
  });
});
