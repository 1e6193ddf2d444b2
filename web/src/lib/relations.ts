/**
 * Replies, edits, reactions and retention as plain content (no SDK objects), so the rules are
 * unit-tested: what is sent, how a reply's quoted fallback is hidden, how reactions are counted.
 */

import { textContent } from "./markdown";

/** Reactions offered by the quick picker. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"] as const;

type Text = ReturnType<typeof textContent>;

/** A text message replying to `parentId`. */
export function replyContent(text: string, parentId: string): Text & { "m.relates_to": object } {
  return { ...textContent(text), "m.relates_to": { "m.in_reply_to": { event_id: parentId } } };
}

/** An edit replacing `targetId`'s text with `text` (the `* ` body is the fallback for old clients). */
export function editContent(text: string, targetId: string): Record<string, unknown> {
  const fresh = textContent(text);
  return {
    msgtype: "m.text",
    body: `* ${text}`,
    ...(fresh.formatted_body ? { format: fresh.format, formatted_body: `* ${fresh.formatted_body}` } : {}),
    "m.new_content": fresh,
    "m.relates_to": { rel_type: "m.replace", event_id: targetId },
  };
}

/** A reaction with `key` to `targetId`. */
export function reactionContent(key: string, targetId: string): Record<string, unknown> {
  return { "m.relates_to": { rel_type: "m.annotation", event_id: targetId, key } };
}

/** The body without a reply's quoted fallback (leading `> ` lines and the blank line after). */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i += 1;
  if (i === 0) return body;
  if (lines[i] === "") i += 1;
  return lines.slice(i).join("\n");
}

export interface Reaction {
  key: string;
  sender: string;
  eventId: string;
}

export interface ReactionGroup {
  key: string;
  count: number;
  senders: string[];
  /** Our own reaction's event ID, so pressing the chip again removes it. */
  mine?: string;
}

/** Reactions grouped by key, most used first (ties: first seen first); one per sender and key. */
export function groupReactions(reactions: Reaction[], me: string): ReactionGroup[] {
  const groups = new Map<string, ReactionGroup>();
  for (const r of reactions) {
    const g = groups.get(r.key) ?? { key: r.key, count: 0, senders: [] };
    if (g.senders.includes(r.sender)) continue;
    g.senders.push(r.sender);
    g.count += 1;
    if (r.sender === me) g.mine = r.eventId;
    groups.set(r.key, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/** The banner for a room's retention (`max_lifetime` in ms), or "" when messages are kept. */
export function retentionText(maxLifetimeMs: unknown): string {
  if (typeof maxLifetimeMs !== "number" || !Number.isFinite(maxLifetimeMs) || maxLifetimeMs <= 0) return "";
  const hours = maxLifetimeMs / 3_600_000;
  if (hours < 1) {
    const minutes = Math.max(1, Math.round(maxLifetimeMs / 60_000));
    return `Messages here are deleted after ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`;
  }
  if (hours < 48) {
    const h = Math.round(hours);
    return `Messages here are deleted after ${h} ${h === 1 ? "hour" : "hours"}.`;
  }
  const days = Math.round(hours / 24);
  return `Messages here are deleted after ${days} days.`;
}
