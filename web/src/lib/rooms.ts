/** Ordering and filtering of the room list, over plain summaries (no SDK objects). */

export type RoomKind = "invite" | "dm" | "group";

export interface RoomSummary {
  roomId: string;
  name: string;
  kind: RoomKind;
  unread: number;
  highlights: number;
  lastActivity: number;
  encrypted: boolean;
  /** Notifications for the room are off. */
  muted?: boolean;
  /** The other person in a DM, for the presence dot. */
  peer?: string;
}

/** Invites first, then rooms with unread messages, then by latest activity. */
export function sortRooms(rooms: RoomSummary[]): RoomSummary[] {
  return [...rooms].sort((a, b) => {
    if ((a.kind === "invite") !== (b.kind === "invite")) return a.kind === "invite" ? -1 : 1;
    if ((a.unread > 0) !== (b.unread > 0)) return a.unread > 0 ? -1 : 1;
    return b.lastActivity - a.lastActivity;
  });
}

/** Rooms whose name contains `query` (case-insensitive); all when the query is blank. */
export function filterRooms(rooms: RoomSummary[], query: string): RoomSummary[] {
  const q = query.trim().toLowerCase();
  if (!q) return rooms;
  return rooms.filter((r) => r.name.toLowerCase().includes(q));
}

/** A badge text for an unread count: "", "3", "99+". */
export function unreadBadge(count: number): string {
  if (count <= 0) return "";
  return count > 99 ? "99+" : count.toString();
}

/** The power levels the settings offer, by name. */
export const ROLES: ReadonlyArray<{ label: string; level: number }> = [
  { label: "Member", level: 0 },
  { label: "Moderator", level: 50 },
  { label: "Admin", level: 100 },
];

/** A role name for a power level: "Admin", "Moderator", "Member", or "Custom (level 20)". */
export function roleName(level: number): string {
  const known = ROLES.find((r) => r.level === level);
  if (known) return known.label;
  return level > 100 ? "Creator" : `Custom (level ${level})`;
}
