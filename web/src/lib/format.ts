/** Formatting of sizes, times, days and presence for display. */

/** A byte count as "12 KB", "3.4 MB" (powers of 1024, one decimal below 10). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${units[unit]}`;
}

/** Hours and minutes of a timestamp, e.g. "09:05". */
export function formatClock(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/** True when both timestamps fall on the same local calendar day. */
export function sameDay(a: number, b: number): boolean {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** The label of a day separator: "Today", "Yesterday", or a date such as "3 March 2026". */
export function dayLabel(ts: number, now: number): string {
  if (sameDay(ts, now)) return "Today";
  if (sameDay(ts, now - 86_400_000)) return "Yesterday";
  return new Date(ts).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
}

/** A countdown such as "45s", "4m 05s", "2h 03m"; "0s" once it has run out. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** A presence word for a dot's label: "online", "away", "offline, last seen 5 min ago". */
export function presenceLabel(presence: string | undefined, lastActiveAgoMs: number | undefined): string {
  if (presence === "online") return "online";
  if (presence === "unavailable") return "away";
  if (lastActiveAgoMs === undefined || lastActiveAgoMs <= 0) return "offline";
  const minutes = Math.round(lastActiveAgoMs / 60_000);
  if (minutes < 1) return "offline, last seen just now";
  if (minutes < 60) return `offline, last seen ${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `offline, last seen ${hours} h ago`;
  return `offline, last seen ${Math.round(hours / 24)} days ago`;
}

/** The localpart of a user ID ("@alice:example.org" -> "alice"), for display fallbacks. */
export function localpart(userId: string): string {
  const match = /^@([^:]+):/.exec(userId);
  return match?.[1] ?? userId;
}

/** A full user ID from what someone typed: "bob" -> "@bob:server", "@bob:x" unchanged. */
export function toUserId(typed: string, serverName: string): string {
  const t = typed.trim();
  if (t.startsWith("@")) return t.includes(":") ? t : `${t}:${serverName}`;
  return `@${t}:${serverName}`;
}

/** `w`×`h` scaled down to fit a `maxW`×`maxH` box (aspect kept, at least 1 px), or undefined
 * when it fits already. */
export function fitWithin(w: number, h: number, maxW: number, maxH: number): { w: number; h: number } | undefined {
  if (!(w > 0 && h > 0) || (w <= maxW && h <= maxH)) return undefined;
  const scale = Math.min(maxW / w, maxH / h);
  return { w: Math.max(1, Math.round(w * scale)), h: Math.max(1, Math.round(h * scale)) };
}
