/** Power levels of a live room, read through `lib/power` (room version 12 creators included). */

import { EventType, type Room } from "matrix-js-sdk";
import { actionLevel, type PowerState, stateLevel, userLevel } from "../lib/power";

export function powerState(room: Room): PowerState {
  const create = room.currentState.getStateEvents(EventType.RoomCreate, "");
  return {
    createSender: create?.getSender(),
    create: create?.getContent(),
    levels: room.currentState.getStateEvents(EventType.RoomPowerLevels, "")?.getContent(),
  };
}

/** What a user may do in a room. */
export function permissions(room: Room, userId: string) {
  const state = powerState(room);
  const level = userLevel(state, userId);
  return {
    level,
    levelOf: (other: string) => userLevel(state, other),
    canState: (type: string) => level >= stateLevel(state, type),
    can: (action: "kick" | "ban" | "redact" | "invite") => level >= actionLevel(state, action),
  };
}
