/**
 * Message search over plain entries: every word of the query must appear (case- and
 * accent-insensitive); newest first. Used for the local index of decrypted messages.
 */

export interface SearchEntry {
  roomId: string;
  eventId: string;
  sender: string;
  body: string;
  ts: number;
}

/** Lower case without accents, for matching. */
export function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase();
}

/** The query's words (empty when the query is blank). */
export function queryTerms(query: string): string[] {
  return fold(query).split(/\s+/).filter(Boolean);
}

/** Entries containing every term, newest first, at most `limit`, one per event. */
export function searchEntries(entries: SearchEntry[], query: string, limit = 50): SearchEntry[] {
  const terms = queryTerms(query);
  if (!terms.length) return [];
  const seen = new Set<string>();
  return entries
    .filter((e) => {
      if (seen.has(e.eventId)) return false;
      seen.add(e.eventId);
      const body = fold(e.body);
      return terms.every((t) => body.includes(t));
    })
    .sort((a, b) => b.ts - a.ts)
    .slice(0, limit);
}

/** `body` cut to about `width` characters around the first term, with ellipses. */
export function snippet(body: string, query: string, width = 80): string {
  const flat = body.replace(/\s+/g, " ").trim();
  if (flat.length <= width) return flat;
  const first = queryTerms(query)[0];
  const at = first ? fold(flat).indexOf(first) : -1;
  const start = Math.max(0, Math.min(at - Math.floor(width / 3), flat.length - width));
  return `${start > 0 ? "…" : ""}${flat.slice(start, start + width).trim()}${start + width < flat.length ? "…" : ""}`;
}
