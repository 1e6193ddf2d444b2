/** The timeline: history with day separators, paging back, receipts and self-destructing messages. */

import { EventType, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { errorSentence } from "../lib/errors";
import { dayLabel, formatClock, formatCountdown, localpart, sameDay } from "../lib/format";
import { expiresAt } from "../lib/selfDestruct";
import { FileView } from "./FileView";
import { LockIcon, TimerIcon } from "./Icons";
import { useToast } from "./Toasts";

const SHOWN = new Set<string>([EventType.RoomMessage, EventType.RoomMessageEncrypted]);

export function Timeline({ client, room, tick }: { client: MatrixClient; room: Room; tick: number }) {
  const toast = useToast();
  const scroller = useRef<HTMLDivElement>(null);
  const [loading, setLoading] = useState(false);
  const [atStart, setAtStart] = useState(false);
  const now = useNow(room, tick);
  const me = client.getUserId() ?? "";
  const events = room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => SHOWN.has(e.getType()) && !e.isRedacted() && !gone(e, now));
  const last = events.at(-1);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 200) el.scrollTop = el.scrollHeight;
  }, [events.length, last?.getId()]);

  async function older(): Promise<void> {
    if (loading || atStart) return;
    setLoading(true);
    const el = scroller.current;
    const before = el ? el.scrollHeight - el.scrollTop : 0;
    try {
      await client.scrollback(room, 30);
      setAtStart(room.getLiveTimeline().getPaginationToken("b" as never) === null);
      requestAnimationFrame(() => el && (el.scrollTop = el.scrollHeight - before));
    } catch (err) {
      toast(errorSentence(err, "load older messages"), "error");
    } finally {
      setLoading(false);
    }
  }

  return (
    <div ref={scroller} onScroll={(e) => e.currentTarget.scrollTop < 40 && void older()} className="min-h-0 flex-1 overflow-y-auto px-3 py-2">
      <div className="mb-2 text-center">
        {atStart ? (
          <p className="text-xs text-slate-500 dark:text-slate-400">This is the beginning of the conversation.</p>
        ) : (
          <button type="button" onClick={() => void older()} disabled={loading} className="rounded px-3 py-1 text-xs text-indigo-700 hover:bg-slate-100 dark:text-indigo-300 dark:hover:bg-slate-800">
            {loading ? "Loading…" : "Load older messages"}
          </button>
        )}
      </div>
      <ol role="log" aria-label="Messages" aria-live="polite" className="space-y-1">
        {events.map((e, i) => {
          const prev = events[i - 1];
          const newDay = !prev || !sameDay(prev.getTs(), e.getTs());
          return (
            <li key={e.getId() ?? e.getTxnId() ?? i}>
              {newDay && <DaySeparator label={dayLabel(e.getTs(), now)} />}
              <Message client={client} event={e} mine={e.getSender() === me} now={now} />
            </li>
          );
        })}
      </ol>
      {last && <SeenBy room={room} event={last} me={me} />}
    </div>
  );
}

function gone(e: MatrixEvent, now: number): boolean {
  const at = expiresAt(e.getContent());
  return at !== undefined && at <= now;
}

/** The current time, ticking every second while a self-destructing message is on screen. */
function useNow(room: Room, tick: number): number {
  const [now, setNow] = useState(Date.now());
  const counting = room.getLiveTimeline().getEvents().some((e) => expiresAt(e.getContent()) !== undefined);
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

function Message({ client, event, mine, now }: { client: MatrixClient; event: MatrixEvent; mine: boolean; now: number }) {
  const content = event.getContent();
  const sender = event.sender?.name ?? localpart(event.getSender() ?? "");
  const expiry = expiresAt(content);
  const status = event.status;
  return (
    <div className={`flex ${mine ? "justify-end" : "justify-start"}`}>
      <article className={`max-w-[85%] rounded-2xl px-3 py-2 text-sm ${mine ? "bg-indigo-600 text-white" : "bg-slate-100 dark:bg-slate-800"}`} data-event-id={event.getId()}>
        {!mine && <p className="text-xs font-semibold opacity-80">{sender}</p>}
        <Body client={client} event={event} />
        <p className="mt-0.5 flex justify-end gap-2 text-[0.7rem] opacity-70">
          {expiry !== undefined && <span aria-label={`disappears in ${formatCountdown(expiry - now)}`}className="inline-flex items-center gap-0.5"><TimerIcon /> {formatCountdown(expiry - now)}</span>}
          {event.isEncrypted() && <span role="img" aria-label="encrypted" className="inline-flex items-center"><LockIcon /></span>}
          <time dateTime={new Date(event.getTs()).toISOString()}>{formatClock(event.getTs())}</time>
          {status === "sending" || status === "queued" || status === "encrypting" ? <span>sending…</span> : null}
          {status === "not_sent" && <span>not sent</span>}
        </p>
      </article>
    </div>
  );
}

function Body({ client, event }: { client: MatrixClient; event: MatrixEvent }) {
  if (event.isDecryptionFailure()) {
    return <p className="italic">Unable to decrypt this message: the key has not arrived from the sender’s device yet.</p>;
  }
  if (event.getType() === EventType.RoomMessageEncrypted) return <p className="italic opacity-70">Decrypting…</p>;
  const content = event.getContent();
  const msgtype = content.msgtype as string | undefined;
  if (msgtype === "m.image" || msgtype === "m.file" || msgtype === "m.video" || msgtype === "m.audio") {
    return <FileView client={client} content={content} msgtype={msgtype} />;
  }
  return <p className="break-words whitespace-pre-wrap">{typeof content.body === "string" ? content.body : ""}</p>;
}

function SeenBy({ room, event, me }: { room: Room; event: MatrixEvent; me: string }) {
  const readers = room
    .getUsersReadUpTo(event)
    .filter((u) => u !== me && u !== event.getSender())
    .map((u) => room.getMember(u)?.name ?? localpart(u));
  if (!readers.length) return null;
  return <p className="mt-1 text-right text-xs text-slate-500 dark:text-slate-400">Seen by {readers.join(", ")}</p>;
}
