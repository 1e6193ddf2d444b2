/**
 * Power levels over plain state content (the SDK in use predates room version 12, whose creators
 * outrank every power level and are not listed in `m.room.power_levels`).
 */

export interface PowerState {
  /** `m.room.create`'s sender and content. */
  createSender?: string;
  create?: Record<string, unknown>;
  /** `m.room.power_levels` content, if the room has one. */
  levels?: Record<string, unknown>;
}

/** A creator's level in rooms whose creators outrank everyone. */
export const CREATOR = Number.POSITIVE_INFINITY;

/** True for room versions where creators are privileged (12 and later). */
export function creatorsPrivileged(roomVersion: unknown): boolean {
  const v = typeof roomVersion === "string" ? roomVersion : "1";
  return /^\d+$/.test(v) ? Number(v) >= 12 : v.includes("hydra");
}

function num(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : fallback;
}

/** The creators of the room (sender of the create event plus `additional_creators`). */
export function creators(state: PowerState): string[] {
  const extra = state.create?.additional_creators;
  return [state.createSender ?? "", ...(Array.isArray(extra) ? extra.filter((u): u is string => typeof u === "string") : [])].filter(Boolean);
}

/** The user's power level. */
export function userLevel(state: PowerState, userId: string): number {
  if (creatorsPrivileged(state.create?.room_version) && creators(state).includes(userId)) return CREATOR;
  if (!state.levels) return userId === state.createSender ? 100 : 0;
  const users = state.levels.users as Record<string, unknown> | undefined;
  return num(users?.[userId], num(state.levels.users_default, 0));
}

/** The level needed to send a state event of `type`. */
export function stateLevel(state: PowerState, type: string): number {
  if (!state.levels) return 0;
  const events = state.levels.events as Record<string, unknown> | undefined;
  return num(events?.[type], num(state.levels.state_default, 50));
}

/** The level needed for a membership action or a redaction of someone else's event. */
export function actionLevel(state: PowerState, action: "kick" | "ban" | "redact" | "invite"): number {
  return num(state.levels?.[action], action === "invite" ? 0 : 50);
}
