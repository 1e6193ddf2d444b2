import { describe, expect, it } from "vitest";
import { escapeHtml, hasMarkup, parseInline, parseMarkdown, plainText, safeHref, textContent, toHtml } from "./markdown";
import { editContent, groupReactions, reactionContent, replyContent, retentionText, stripReplyFallback } from "./relations";
import { anchoredScrollTop, indexAt, offsetsOf, visibleRange } from "./virtual";
import { fold, type SearchEntry, searchEntries, snippet } from "./search";
import { messageTrust, verificationStep } from "./trust";
import { actionLevel, CREATOR, creatorsPrivileged, stateLevel, userLevel } from "./power";
import { roleName } from "./rooms";

describe("markdown", () => {
  it("parses inline spans and links", () => {
    expect(parseInline("a **b** *c* `d` ~~e~~")).toEqual([
      { kind: "text", text: "a " },
      { kind: "strong", children: [{ kind: "text", text: "b" }] },
      { kind: "text", text: " " },
      { kind: "em", children: [{ kind: "text", text: "c" }] },
      { kind: "text", text: " " },
      { kind: "code", text: "d" },
      { kind: "text", text: " " },
      { kind: "del", children: [{ kind: "text", text: "e" }] },
    ]);
    expect(parseInline("see https://example.org/x.")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", href: "https://example.org/x", children: [{ kind: "text", text: "https://example.org/x" }] },
      { kind: "text", text: "." },
    ]);
  });
  it("leaves snake_case and lone stars alone", () => {
    expect(parseInline("snake_case_name 2 * 3")).toEqual([{ kind: "text", text: "snake_case_name 2 * 3" }]);
    expect(hasMarkup("plain words, nothing more")).toBe(false);
  });
  it("never links to anything but http(s)", () => {
    expect(safeHref("javascript:alert(1)")).toBeUndefined();
    expect(parseInline("[x](javascript:alert(1))").every((n) => n.kind === "text")).toBe(true);
    expect(safeHref("data:text/html,hi")).toBeUndefined();
  });
  it("parses blocks", () => {
    expect(parseMarkdown("```\n<b>x</b>\n```\n> quoted\n- one\n- two\n1. first").map((b) => b.kind)).toEqual(["pre", "quote", "ul", "ol"]);
    expect(parseMarkdown("line one\nline two")).toEqual([
      { kind: "p", inlines: [{ kind: "text", text: "line one" }, { kind: "br" }, { kind: "text", text: "line two" }] },
    ]);
  });
  it("escapes every piece of text in the HTML it writes", () => {
    expect(escapeHtml(`<img src=x onerror="y">&'`)).toBe("&#60;img src=x onerror=&#34;y&#34;&#62;&#38;&#39;");
    expect(toHtml(parseMarkdown("**<script>alert(1)</script>**"))).toBe("<p><strong>&#60;script&#62;alert(1)&#60;/script&#62;</strong></p>");
    expect(toHtml(parseMarkdown('[a](https://x.org/"onmouseover=1)'))).toContain('href="https://x.org/%22onmouseover=1"');
    expect(textContent("hi")).toEqual({ msgtype: "m.text", body: "hi" });
    expect(textContent("*hi*").formatted_body).toBe("<p><em>hi</em></p>");
    expect(plainText("Plan: *changed*\n- a\n- b")).toBe("Plan: changed a, b");
  });
});

describe("relations", () => {
  it("builds replies, edits and reactions", () => {
    expect(replyContent("yes", "$p")["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: "$p" } });
    expect(editContent("fixed", "$t")).toEqual({
      msgtype: "m.text",
      body: "* fixed",
      "m.new_content": { msgtype: "m.text", body: "fixed" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$t" },
    });
    expect(reactionContent("👍", "$t")).toEqual({ "m.relates_to": { rel_type: "m.annotation", event_id: "$t", key: "👍" } });
  });
  it("hides a reply's quoted fallback", () => {
    expect(stripReplyFallback("> <@a:x> hello\n> there\n\nmy answer")).toBe("my answer");
    expect(stripReplyFallback("no quote")).toBe("no quote");
  });
  it("groups reactions once per sender", () => {
    const groups = groupReactions(
      [
        { key: "👍", sender: "@a:x", eventId: "$1" },
        { key: "🎉", sender: "@b:x", eventId: "$2" },
        { key: "🎉", sender: "@me:x", eventId: "$3" },
        { key: "🎉", sender: "@me:x", eventId: "$4" },
      ],
      "@me:x",
    );
    expect(groups).toEqual([
      { key: "🎉", count: 2, senders: ["@b:x", "@me:x"], mine: "$3" },
      { key: "👍", count: 1, senders: ["@a:x"] },
    ]);
  });
  it("words the retention banner", () => {
    expect(retentionText(7 * 86_400_000)).toBe("Messages here are deleted after 7 days.");
    expect(retentionText(3_600_000)).toBe("Messages here are deleted after 1 hour.");
    expect(retentionText(90_000)).toBe("Messages here are deleted after 2 minutes.");
    expect(retentionText(undefined)).toBe("");
    expect(retentionText(0)).toBe("");
  });
});

describe("power levels", () => {
  const v12 = { createSender: "@c:x", create: { room_version: "12", additional_creators: ["@d:x"] }, levels: { users: { "@m:x": 50 }, state_default: 50, events: { "m.room.name": 60 } } };
  it("ranks version 12 creators above everyone", () => {
    expect(creatorsPrivileged("12")).toBe(true);
    expect(creatorsPrivileged("11")).toBe(false);
    expect(userLevel(v12, "@c:x")).toBe(CREATOR);
    expect(userLevel(v12, "@d:x")).toBe(CREATOR);
    expect(userLevel(v12, "@m:x")).toBe(50);
    expect(userLevel({ ...v12, create: { room_version: "10" } }, "@c:x")).toBe(0);
    expect(roleName(CREATOR)).toBe("Creator");
  });
  it("reads the levels needed, with the spec's defaults", () => {
    expect(stateLevel(v12, "m.room.name")).toBe(60);
    expect(stateLevel(v12, "m.room.topic")).toBe(50);
    expect(actionLevel(v12, "kick")).toBe(50);
    expect(actionLevel(v12, "invite")).toBe(0);
    expect(userLevel({ createSender: "@c:x" }, "@c:x")).toBe(100);
    expect(roleName(20)).toBe("Custom (level 20)");
  });
});

describe("trust", () => {
  it("flags device problems and marks verified senders", () => {
    expect(messageTrust(2, true)?.kind).toBe("warning");
    expect(messageTrust(null, true)).toEqual({ kind: "verified", text: "From a verified device of a verified person." });
    expect(messageTrust(null, false)).toBeUndefined();
    expect(messageTrust(1, false)).toBeUndefined();
  });
  it("words verification steps", () => {
    expect(verificationStep(2, false, "bob")).toBe("bob wants to verify with you.");
    expect(verificationStep(4, true, "bob")).toMatch(/Compare these emoji/);
    expect(verificationStep(6, true, "bob")).toBe("bob is verified.");
  });
});

describe("search", () => {
  const entry = (eventId: string, body: string, ts: number): SearchEntry => ({ roomId: "!r", eventId, sender: "@a:x", body, ts });
  it("needs every word, ignores case and accents, newest first", () => {
    const entries = [entry("$1", "Café at noon", 1), entry("$2", "the cafe is closed at NOON today", 2), entry("$3", "noon only", 3), entry("$2", "dup", 4)];
    expect(searchEntries(entries, "cafe noon").map((e) => e.eventId)).toEqual(["$2", "$1"]);
    expect(searchEntries(entries, "   ")).toEqual([]);
    expect(fold("Ébène")).toBe("ebene");
  });
  it("cuts a snippet around the first word", () => {
    const long = `${"a ".repeat(60)}needle ${"b ".repeat(60)}`;
    const cut = snippet(long, "needle", 40);
    expect(cut).toContain("needle");
    expect(cut.startsWith("…") && cut.endsWith("…")).toBe(true);
    expect(snippet("short", "x")).toBe("short");
  });
});

describe("timeline windowing", () => {
  const heights = Array.from({ length: 10_000 }, (_, i) => 40 + (i % 7) * 10);
  const offsets = offsetsOf(heights);
  it("finds the items near the viewport among 10,000", () => {
    const y = offsets[5_000]!;
    expect(indexAt(offsets, y)).toBe(5_000);
    expect(indexAt(offsets, y - 1)).toBe(4_999);
    const { start, end } = visibleRange(offsets, y, 800, 400);
    expect(start).toBeLessThan(5_000);
    expect(end - start).toBeLessThan(60);
    expect(offsets[start]!).toBeLessThanOrEqual(y - 400);
    expect(offsets[end]!).toBeGreaterThanOrEqual(y + 1200);
  });
  it("clamps at both ends and handles an empty list", () => {
    expect(visibleRange(offsets, 0, 800, 400).start).toBe(0);
    expect(visibleRange(offsets, offsets[10_000]! + 50, 800, 400).end).toBe(10_000);
    expect(visibleRange([0], 0, 800, 400)).toEqual({ start: 0, end: 0 });
  });
  it("keeps an anchor in place when items are added above", () => {
    const keys = ["c", "d"];
    const before = offsetsOf([50, 60]);
    const after = offsetsOf([30, 30, 50, 60]);
    expect(anchoredScrollTop(["a", "b", ...keys], after, "c", 10)).toBe(70);
    expect(anchoredScrollTop(keys, before, "x", 0)).toBeUndefined();
  });
});
