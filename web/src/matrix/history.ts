/**
 * A room's loaded history and paging back through it.
 *
 * A sync that comes back "limited" (more new events than it carries) starts a fresh live
 * timeline; what was loaded before lives on in an older timeline. Paging back from the earliest
 * timeline fills the gap, and when it reaches events already known, the SDK links the two
 * timelines as neighbours. So the history shown is the chain of timelines linked behind the live
 * one, oldest first, and paging back always continues from the earliest of them, with that
 * timeline's own token (the room-wide `oldState` token stops at the first link).
 */

import { Direction, EventTimeline, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";

/** The live timeline and those linked before it, oldest first. */
export function timelineChain(room: Room): EventTimeline[] {
  const chain: EventTimeline[] = [];
  const seen = new Set<EventTimeline>();
  for (let t: EventTimeline | null = room.getLiveTimeline(); t && !seen.has(t); t = t.getNeighbouringTimeline(EventTimeline.BACKWARDS)) {
    seen.add(t);
    chain.push(t);
  }
  return chain.reverse();
}

/** Every event of the chain, oldest first. */
export function loadedEvents(room: Room): MatrixEvent[] {
  return timelineChain(room).flatMap((t) => t.getEvents());
}

/** True when the room's first event is loaded, or the server said there is nothing older. */
export function historyComplete(room: Room): boolean {
  const first = timelineChain(room)[0];
  if (!first) return true;
  return first.getEvents()[0]?.getType() === "m.room.create" || first.getPaginationToken(Direction.Backward) === null;
}

/** Load up to `limit` older events; false once the start of the room is reached. */
export async function pageBack(client: MatrixClient, room: Room, limit: number): Promise<boolean> {
  if (historyComplete(room)) return false;
  const first = timelineChain(room)[0]!;
  const more = await client.paginateEventTimeline(first, { backwards: true, limit });
  return more && !historyComplete(room);
}
