/**
 * Self-destructing messages. The content fields are the homeserver's (retention and
 * self-destruct): `org.matrix.self_destruct_after` is an absolute Unix time in ms after which
 * the message is deleted; `org.matrix.self_destruct` is a duration in ms that starts at the
 * first read by someone other than the sender. The client hides its own copy on time either way.
 */

export const SELF_DESTRUCT_AFTER = "org.matrix.self_destruct_after";
export const SELF_DESTRUCT = "org.matrix.self_destruct";

/** Choices offered by the composer's timer picker (0 = off). */
export const TIMER_CHOICES: ReadonlyArray<{ label: string; ms: number }> = [
  { label: "Off", ms: 0 },
  { label: "10 seconds", ms: 10_000 },
  { label: "1 minute", ms: 60_000 },
  { label: "5 minutes", ms: 300_000 },
  { label: "1 hour", ms: 3_600_000 },
  { label: "1 day", ms: 86_400_000 },
];

/** `content` with a self-destruct time `ms` from `now` (unchanged when `ms` is 0). */
export function withSelfDestruct<T extends object>(content: T, ms: number, now: number): T {
  if (ms <= 0) return content;
  return { ...content, [SELF_DESTRUCT_AFTER]: now + ms };
}

/**
 * When a message vanishes, or undefined if it never does.
 *
 * @param content - the (decrypted) event content.
 * @param readAt - when someone other than the sender first read it, for the relative timer.
 */
export function expiresAt(content: Record<string, unknown>, readAt?: number): number | undefined {
  const absolute = content[SELF_DESTRUCT_AFTER];
  const relative = content[SELF_DESTRUCT];
  const times: number[] = [];
  if (isTime(absolute)) times.push(absolute);
  if (isTime(relative) && readAt !== undefined) times.push(readAt + relative);
  return times.length ? Math.min(...times) : undefined;
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** True once a message with this content should be gone. */
export function isExpired(content: Record<string, unknown>, now: number, readAt?: number): boolean {
  const at = expiresAt(content, readAt);
  return at !== undefined && at <= now;
}
