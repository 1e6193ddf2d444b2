/**
 * A small, safe markdown subset for messages. Text is parsed into a tree (never into HTML that
 * is injected): the UI renders the tree as React elements, and `toHtml` writes the escaped
 * `formatted_body` other Matrix clients read. Supported: paragraphs with line breaks, fenced
 * code blocks, `> ` quotes, `- `/`* ` and `1. ` lists, `code`, **bold**, *italic* / _italic_,
 * ~~strike~~, [text](https://…) links and bare http(s) URLs. Links only ever point at http(s).
 */

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "code"; text: string }
  | { kind: "br" }
  | { kind: "strong" | "em" | "del"; children: Inline[] }
  | { kind: "link"; href: string; children: Inline[] };

export type Block =
  | { kind: "p"; inlines: Inline[] }
  | { kind: "pre"; text: string }
  | { kind: "quote"; blocks: Block[] }
  | { kind: "ul" | "ol"; items: Inline[][] };

const BULLET = /^\s*[-*]\s+/;
const NUMBER = /^\s*\d{1,9}[.)]\s+/;

/** Parse `text` into blocks. */
export function parseMarkdown(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trimStart().startsWith("```")) {
      const end = lines.findIndex((l, j) => j > i && l.trimStart().startsWith("```"));
      const stop = end === -1 ? lines.length : end;
      blocks.push({ kind: "pre", text: lines.slice(i + 1, stop).join("\n") });
      i = stop + 1;
    } else if (line.startsWith(">")) {
      const quoted = takeWhile(lines, i, (l) => l.startsWith(">"));
      blocks.push({ kind: "quote", blocks: parseMarkdown(quoted.map((l) => l.replace(/^> ?/, "")).join("\n")) });
      i += quoted.length;
    } else if (BULLET.test(line) || NUMBER.test(line)) {
      const marker = BULLET.test(line) ? BULLET : NUMBER;
      const items = takeWhile(lines, i, (l) => marker.test(l));
      blocks.push({ kind: marker === BULLET ? "ul" : "ol", items: items.map((l) => parseInline(l.replace(marker, ""))) });
      i += items.length;
    } else if (line.trim() === "") {
      i += 1;
    } else {
      const para = takeWhile(lines, i, (l) => l.trim() !== "" && !l.startsWith(">") && !l.trimStart().startsWith("```") && !BULLET.test(l) && !NUMBER.test(l));
      const inlines: Inline[] = [];
      para.forEach((l, n) => {
        if (n > 0) inlines.push({ kind: "br" });
        inlines.push(...parseInline(l));
      });
      blocks.push({ kind: "p", inlines });
      i += para.length;
    }
  }
  return blocks;
}

function takeWhile(lines: string[], from: number, keep: (line: string) => boolean): string[] {
  const out: string[] = [];
  for (let j = from; j < lines.length && keep(lines[j]!); j += 1) out.push(lines[j]!);
  return out;
}

const SPANS: ReadonlyArray<{ open: string; kind: "strong" | "em" | "del" }> = [
  { open: "**", kind: "strong" },
  { open: "__", kind: "strong" },
  { open: "~~", kind: "del" },
  { open: "*", kind: "em" },
  { open: "_", kind: "em" },
];

/** A link target if `href` is an absolute http(s) URL, else undefined. */
export function safeHref(href: string): string | undefined {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Parse one line of inline markup. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = "";
  const flush = (): void => {
    if (plain) out.push({ kind: "text", text: plain });
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const code = /^`([^`]+)`/.exec(rest);
    const link = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest);
    const bare = /^https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'*_~]/.exec(rest);
    const span = SPANS.find((s) => rest.startsWith(s.open) && closes(rest, s.open));
    if (code) {
      flush();
      out.push({ kind: "code", text: code[1]! });
      i += code[0].length;
    } else if (link && safeHref(link[2]!)) {
      flush();
      out.push({ kind: "link", href: safeHref(link[2]!)!, children: parseInline(link[1]!) });
      i += link[0].length;
    } else if (bare && (i === 0 || /\s|\(/.test(text[i - 1]!)) && safeHref(bare[0])) {
      flush();
      out.push({ kind: "link", href: safeHref(bare[0])!, children: [{ kind: "text", text: bare[0] }] });
      i += bare[0].length;
    } else if (span && (span.open[0] !== "_" || i === 0 || !/\w/.test(text[i - 1]!))) {
      const end = rest.indexOf(span.open, span.open.length);
      flush();
      out.push({ kind: span.kind, children: parseInline(rest.slice(span.open.length, end)) });
      i += end + span.open.length;
    } else {
      plain += text[i];
      i += 1;
    }
  }
  flush();
  return out;
}

function closes(rest: string, open: string): boolean {
  const end = rest.indexOf(open, open.length);
  if (end <= open.length) return false;
  const inner = rest.slice(open.length, end);
  return inner.trim() === inner;
}

/** True when `text` uses any markup, so a `formatted_body` is worth sending. */
export function hasMarkup(text: string): boolean {
  const blocks = parseMarkdown(text);
  return blocks.some((b) => b.kind !== "p" || b.inlines.some((n) => n.kind !== "text" && n.kind !== "br"));
}

/** `text` with the five HTML-special characters escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function inlineHtml(nodes: Inline[]): string {
  return nodes
    .map((n) => {
      switch (n.kind) {
        case "text":
          return escapeHtml(n.text);
        case "code":
          return `<code>${escapeHtml(n.text)}</code>`;
        case "br":
          return "<br>";
        case "link":
          return `<a href="${escapeHtml(n.href)}">${inlineHtml(n.children)}</a>`;
        default:
          return `<${n.kind}>${inlineHtml(n.children)}</${n.kind}>`;
      }
    })
    .join("");
}

/** The blocks as HTML for `formatted_body` (`org.matrix.custom.html`); all text is escaped. */
export function toHtml(blocks: Block[]): string {
  return blocks
    .map((b) => {
      switch (b.kind) {
        case "p":
          return `<p>${inlineHtml(b.inlines)}</p>`;
        case "pre":
          return `<pre><code>${escapeHtml(b.text)}</code></pre>`;
        case "quote":
          return `<blockquote>${toHtml(b.blocks)}</blockquote>`;
        default:
          return `<${b.kind}>${b.items.map((item) => `<li>${inlineHtml(item)}</li>`).join("")}</${b.kind}>`;
      }
    })
    .join("");
}

/** Message content for `text`: plain, plus an escaped HTML rendering when it has markup. */
export function textContent(text: string): { msgtype: "m.text"; body: string; format?: string; formatted_body?: string } {
  if (!hasMarkup(text)) return { msgtype: "m.text", body: text };
  return { msgtype: "m.text", body: text, format: "org.matrix.custom.html", formatted_body: toHtml(parseMarkdown(text)) };
}

function inlineText(nodes: Inline[]): string {
  return nodes.map((n) => (n.kind === "br" ? " " : n.kind === "text" || n.kind === "code" ? n.text : inlineText(n.children))).join("");
}

/** The text without markup, on one line (for quotes and previews). */
export function plainText(text: string): string {
  return parseMarkdown(text)
    .map((b) => (b.kind === "p" ? inlineText(b.inlines) : b.kind === "pre" ? b.text : b.kind === "quote" ? "" : b.items.map(inlineText).join(", ")))
    .filter(Boolean)
    .join(" ");
}

/** The links of a parsed message, in order (not those inside code), at most `limit`. */
export function linksOf(parsed: Block[], limit = 1): string[] {
  const out: string[] = [];
  const walkInlines = (inlines: Inline[]): void => {
    for (const node of inlines) {
      if (out.length >= limit) return;
      if (node.kind === "link") out.push(node.href);
      else if (node.kind === "strong" || node.kind === "em" || node.kind === "del") walkInlines(node.children);
    }
  };
  const walkBlocks = (blocks: Block[]): void => {
    for (const b of blocks) {
      if (b.kind === "p") walkInlines(b.inlines);
      else if (b.kind === "quote") walkBlocks(b.blocks);
      else if (b.kind === "ul" || b.kind === "ol") b.items.forEach(walkInlines);
    }
  };
  walkBlocks(parsed);
  return out;
}
