/**
 * Per-room mute as the spec does it: an `override` push rule named after the room, matching its
 * events, with no actions (so the server counts nothing and the browser notifies nothing).
 */

import { ConditionKind, type MatrixClient, PushRuleKind } from "matrix-js-sdk";

/** True when the room has our mute rule (as the client's push rules last said). */
export function isMuted(client: MatrixClient, roomId: string): boolean {
  const rule = client.pushRules?.global?.override?.find((r) => r.rule_id === roomId);
  return !!rule && rule.enabled !== false && rule.actions.length === 0;
}

export async function setMuted(client: MatrixClient, roomId: string, muted: boolean): Promise<void> {
  if (muted) {
    await client.addPushRule("global", PushRuleKind.Override, roomId, {
      actions: [],
      conditions: [{ kind: ConditionKind.EventMatch, key: "room_id", pattern: roomId }],
    });
  } else {
    await client.deletePushRule("global", PushRuleKind.Override, roomId);
  }
  // Take the rules from the server now rather than waiting for the next sync.
  client.pushRules = await client.getPushRules();
}
