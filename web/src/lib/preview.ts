/**
 * URL previews: the Open Graph answer of the server's `preview_url`, checked and cut down to what
 * a card shows. The server fetches the page, so it sees the link: in encrypted rooms a preview is
 * only asked for when the person presses "Show preview".
 */

export interface LinkPreview {
  url: string;
  title?: string;
  description?: string;
  siteName?: string;
  /** An `mxc://` image the server stored for the page. */
  image?: string;
}

function text(value: unknown, max: number): string | undefined {
  if (typeof value !== "string") return undefined;
  const flat = value.replace(/\s+/g, " ").trim();
  if (!flat) return undefined;
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The card for `url` from a `preview_url` response, or undefined when it has nothing to show. */
export function parsePreview(url: string, og: unknown): LinkPreview | undefined {
  if (typeof og !== "object" || og === null) return undefined;
  const o = og as Record<string, unknown>;
  const image = typeof o["og:image"] === "string" && o["og:image"].startsWith("mxc://") ? o["og:image"] : undefined;
  const preview: LinkPreview = {
    url,
    title: text(o["og:title"], 200),
    description: text(o["og:description"], 300),
    siteName: text(o["og:site_name"], 100),
    image,
  };
  return preview.title || preview.description ? preview : undefined;
}
