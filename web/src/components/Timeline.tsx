/**
 * The timeline: history with day separators, paging back, receipts and self-destructing
 * messages; virtualised, so only the messages near the viewport are in the page.
 */

import { EventType, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { historyComplete, loadedEvents, pageBack } from "../matrix/history";
import { useEffect, useMemo, useRef, useState } from "react";
import { errorSentence } from "../lib/errors";
import { dayLabel, localpart, sameDay } from "../lib/format";
import { expiresAt } from "../lib/selfDestruct";
import { Message, type MessageActions } from "./Message";
import { useToast } from "./Toasts";
import { useVirtualList } from "./useVirtualList";

/** Messages fetched per page when paging back. */
const PAGE = 50;

const SHOWN = new Set<string>([EventType.RoomMessage, EventType.RoomMessageEncrypted]);

/** Events shown as messages: not reactions, not edits (they change their target), not expired. */
export function shownEvents(room: Room, now: number): MatrixEvent[] {
  return loadedEvents(room).filter((e) => SHOWN.has(e.getType()) && !e.isRelation("m.replace") && !isVerificationRequest(e) && !gone(e, now));
}

export function Timeline({ client, room, tick, onReply, onEdit }: { client: MatrixClient; room: Room; tick: number } & MessageActions) {
  const toast = useToast();
  const scroller = useRef<HTMLDivElement>(null);
  const [loading, setLoading] = useState(false);
  const atStart = historyComplete(room);
  const now = useNow(room, tick);
  const me = client.getUserId() ?? "";
  // Recomputed when the room changes (tick) or a timer runs out, not on every scroll frame.
  const events = useMemo(() => shownEvents(room, now), [room, now, tick]);
  const last = events.at(-1);
  const keys = useMemo(() => events.map((e, i) => e.getTxnId() ?? e.getId() ?? `#${i}`), [events]);
  const list = useRef<HTMLDivElement>(null);
  const virtual = useVirtualList(scroller, list, keys);

  const failed = useRef(false);
  async function older(): Promise<void> {
    if (loading || atStart) return;
    setLoading(true);
    try {
      await pageBack(client, room, PAGE);
      failed.current = false;
    } catch (err) {
      failed.current = true;
      toast(errorSentence(err, "load older messages"), "error");
    } finally {
      setLoading(false);
    }
  }

  // Until the messages fill the view (or the room's start is reached), keep loading older ones;
  // after a failure only the button or scrolling asks again.
  useEffect(() => {
    const el = scroller.current;
    if (!el || loading || atStart || failed.current) return;
    if (el.scrollHeight - el.clientHeight < 400) void older();
  });

  return (
    <div
      ref={scroller}
      onScroll={(e) => {
        virtual.onScroll();
        if (e.currentTarget.scrollTop < 400) void older();
      }}
      className="min-h-0 flex-1 overflow-y-auto px-3 py-2 [overflow-anchor:none]"
    >
      <div className="mb-2 text-center">
        {atStart ? (
          <p className="text-xs text-slate-500 dark:text-slate-400">This is the beginning of the conversation.</p>
        ) : (
          <button type="button" onClick={() => void older()} disabled={loading} className="rounded px-3 py-1 text-xs text-indigo-700 hover:bg-slate-100 dark:text-indigo-300 dark:hover:bg-slate-800">
            {loading ? "Loading…" : "Load older messages"}
          </button>
        )}
      </div>
      <div ref={list} role="log" aria-label="Messages" aria-live="polite" data-count={events.length}>
        <div style={{ height: virtual.before }} />
        {events.slice(virtual.start, virtual.end).map((e, j) => {
          const i = virtual.start + j;
          const prev = events[i - 1];
          const newDay = !prev || !sameDay(prev.getTs(), e.getTs());
          return (
            <div key={keys[i]} ref={virtual.measure(keys[i]!)} className="pb-1">
              {newDay && <DaySeparator label={dayLabel(e.getTs(), now)} />}
              <Message client={client} room={room} event={e} now={now} tick={tick} onReply={onReply} onEdit={onEdit} />
            </div>
          );
        })}
        <div style={{ height: virtual.after }} />
      </div>
      {last && <SeenBy room={room} event={last} me={me} />}
    </div>
  );
}

/** In-room verification requests are handled by the verification dialog, not shown as text. */
function isVerificationRequest(e: MatrixEvent): boolean {
  return e.getContent().msgtype === "m.key.verification.request";
}

/** Expired here, or deleted by the server when its self-destruct time came. */
function gone(e: MatrixEvent, now: number): boolean {
  if (e.isRedacted() && e.getUnsigned().redacted_because?.content?.reason === "self-destruct") return true;
  const at = expiresAt(e.getContent());
  return at !== undefined && at <= now;
}

/** The current time, ticking every second while a self-destructing message is on screen. */
function useNow(room: Room, tick: number): number {
  const [now, setNow] = useState(Date.now());
  const counting = useMemo(() => loadedEvents(room).some((e) => expiresAt(e.getContent()) !== undefined), [room, tick]);
  useEffect(() => {
    setNow(Date.now());
    if (!counting) return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [counting, tick]);
  return now;
}

function DaySeparator({ label }: { label: string }) {
  return (
    <div role="separator" aria-label={label} className="my-2 flex items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
      <span className="h-px flex-1 bg-slate-200 dark:bg-slate-700" />
      {label}
      <span className="h-px flex-1 bg-slate-200 dark:bg-slate-700" />
    </div>
  );
}

function SeenBy({ room, event, me }: { room: Room; event: MatrixEvent; me: string }) {
  const readers = room
    .getUsersReadUpTo(event)
    .filter((u) => u !== me && u !== event.getSender())
    .map((u) => room.getMember(u)?.name ?? localpart(u));
  if (!readers.length) return null;
  return <p className="mt-1 text-right text-xs text-slate-500 dark:text-slate-400">Seen by {readers.join(", ")}</p>;
}
