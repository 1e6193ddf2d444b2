/** Renders the markdown subset of `lib/markdown` as React elements: no HTML is ever injected. */

import type { ReactNode } from "react";
import type { Block, Inline } from "../lib/markdown";

function inlines(nodes: Inline[]): ReactNode[] {
  return nodes.map((n, i) => {
    switch (n.kind) {
      case "text":
        return n.text;
      case "br":
        return <br key={i} />;
      case "code":
        return <code key={i} className="rounded bg-black/10 px-1 font-mono text-[0.85em] dark:bg-white/10">{n.text}</code>;
      case "strong":
        return <strong key={i}>{inlines(n.children)}</strong>;
      case "em":
        return <em key={i}>{inlines(n.children)}</em>;
      case "del":
        return <del key={i}>{inlines(n.children)}</del>;
      case "link":
        return <a key={i} href={n.href} target="_blank" rel="noopener noreferrer nofollow" className="underline">{inlines(n.children)}</a>;
    }
  });
}

function blocks(list: Block[]): ReactNode[] {
  return list.map((b, i) => {
    switch (b.kind) {
      case "p":
        return <p key={i} className="break-words">{inlines(b.inlines)}</p>;
      case "pre":
        return <pre key={i} className="overflow-x-auto rounded bg-black/10 p-2 font-mono text-xs dark:bg-white/10"><code>{b.text}</code></pre>;
      case "quote":
        return <blockquote key={i} className="border-l-4 border-current/30 pl-2 opacity-90">{blocks(b.blocks)}</blockquote>;
      case "ul":
        return <ul key={i} className="list-disc pl-5">{b.items.map((it, j) => <li key={j}>{inlines(it)}</li>)}</ul>;
      case "ol":
        return <ol key={i} className="list-decimal pl-5">{b.items.map((it, j) => <li key={j}>{inlines(it)}</li>)}</ol>;
    }
  });
}

/** Markdown parsed by `parseMarkdown`. */
export function Markdown({ parsed }: { parsed: Block[] }) {
  return <div className="space-y-1">{blocks(parsed)}</div>;
}
