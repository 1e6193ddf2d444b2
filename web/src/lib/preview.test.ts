import { describe, expect, it } from "vitest";
import { linksOf, parseMarkdown } from "./markdown";
import { parsePreview } from "./preview";

describe("linksOf", () => {
  it("finds bare and markdown links in order, not those in code", () => {
    expect(linksOf(parseMarkdown("see `https://code.example` and https://a.example/x, then [b](https://b.example)"), 3)).toEqual(["https://a.example/x", "https://b.example/"]);
    expect(linksOf(parseMarkdown("> quoted https://q.example\n- item **https://bold.example**"), 2)).toEqual(["https://q.example/", "https://bold.example/"]);
    expect(linksOf(parseMarkdown("javascript:alert(1) ftp://x.example"))).toEqual([]);
  });
});

describe("parsePreview", () => {
  it("keeps short text fields and only mxc images", () => {
    expect(parsePreview("https://x", { "og:title": "  A\n title ", "og:image": "https://evil/pic.png", "og:description": 5 })).toEqual({
      url: "https://x",
      title: "A title",
      description: undefined,
      siteName: undefined,
      image: undefined,
    });
    expect(parsePreview("https://x", { "og:title": "T", "og:image": "mxc://s/abc" })?.image).toBe("mxc://s/abc");
    expect(parsePreview("https://x", { "og:title": "x".repeat(500) })?.title).toHaveLength(200);
  });
  it("has nothing to show without a title or description", () => {
    expect(parsePreview("https://x", { "og:image": "mxc://s/abc" })).toBeUndefined();
    expect(parsePreview("https://x", null)).toBeUndefined();
  });
});
