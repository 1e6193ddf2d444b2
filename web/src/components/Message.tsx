/** One message: sender, body (markdown), reply quote, reactions, and its actions menu. */

import { EventType, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { memo, useMemo, useState } from "react";
import { errorSentence } from "../lib/errors";
import { formatClock, formatCountdown, localpart } from "../lib/format";
import { groupReactions, QUICK_REACTIONS, reactionContent, stripReplyFallback } from "../lib/relations";
import { expiresAt } from "../lib/selfDestruct";
import { ConfirmDialog } from "./ConfirmDialog";
import { FileView } from "./FileView";
import { LockIcon, ShieldIcon, TimerIcon } from "./Icons";
import { useMessageTrust } from "../matrix/trust";
import { Markdown } from "./Markdown";
import { linksOf, parseMarkdown, plainText } from "../lib/markdown";
import { LinkPreviewCard } from "./LinkPreviewCard";
import { useToast } from "./Toasts";
import { permissions } from "../matrix/power";

export interface MessageActions {
  onReply: (event: MatrixEvent) => void;
  onEdit: (event: MatrixEvent) => void;
}

interface Props extends MessageActions {
  client: MatrixClient;
  room: Room;
  event: MatrixEvent;
  now: number;
  tick: number;
}

const FILE_TYPES = new Set(["m.image", "m.file", "m.video", "m.audio"]);

/** A row re-renders only when its props change (`tick` for anything in the client), so scrolling
 * a long timeline renders only the rows that come into view. */
export const Message = memo(function Message({ client, room, event, now, tick, onReply, onEdit }: Props) {
  const me = client.getUserId() ?? "";
  const mine = event.getSender() === me;
  const sender = event.sender?.name ?? localpart(event.getSender() ?? "");
  const expiry = expiresAt(event.getContent());
  const status = event.status;
  const redacted = event.isRedacted();
  const trust = useMessageTrust(client, event, tick);
  return (
    <div className={`group flex ${mine ? "justify-end" : "justify-start"}`}>
      <article className={`max-w-[85%] rounded-2xl px-3 py-2 text-sm ${mine ? "bg-indigo-600 text-white" : "bg-slate-100 dark:bg-slate-800"}`} data-event-id={event.getId()}>
        {!mine && <p className="text-xs font-semibold opacity-80">{sender}</p>}
        {!redacted && event.replyEventId && <ReplyQuote room={room} eventId={event.replyEventId} />}
        {redacted ? <p className="italic opacity-70">This message was deleted.</p> : <Body client={client} room={room} event={event} tick={tick} />}
        <p className="mt-0.5 flex flex-wrap items-center justify-end gap-2 text-[0.7rem] opacity-80">
          {expiry !== undefined && <span aria-label={`disappears in ${formatCountdown(expiry - now)}`} className="inline-flex items-center gap-0.5"><TimerIcon /> {formatCountdown(expiry - now)}</span>}
          {event.isEncrypted() && <span role="img" aria-label="encrypted" className="inline-flex items-center"><LockIcon /></span>}
          {trust && (
            <span role="img" aria-label={trust.text} title={trust.text} className={`inline-flex items-center ${trust.kind === "warning" ? "text-amber-500" : ""}`}>
              <ShieldIcon />
            </span>
          )}
          {event.replacingEventId() && !redacted && <span>(edited)</span>}
          <time dateTime={new Date(event.getTs()).toISOString()}>{formatClock(event.getTs())}</time>
          {status === "sending" || status === "queued" || status === "encrypting" ? <span>sending…</span> : null}
          {mine && status === null && event.getId()?.startsWith("$") && <span aria-label="sent" title="Sent">✓</span>}
          {status === "not_sent" && <NotSent client={client} room={room} event={event} />}
          {!redacted && event.getId()?.startsWith("$") && <Actions client={client} room={room} event={event} mine={mine} onReply={onReply} onEdit={onEdit} />}
        </p>
        {!redacted && <Reactions client={client} room={room} event={event} />}
      </article>
    </div>
  );
});

/** A message that could not be sent: say so, and offer to send it again or drop it. */
function NotSent({ client, room, event }: { client: MatrixClient; room: Room; event: MatrixEvent }) {
  const toast = useToast();
  async function retry(): Promise<void> {
    try {
      await client.resendEvent(event, room);
      toast("Message sent.", "success");
    } catch (err) {
      toast(errorSentence(err, "send the message"), "error");
    }
  }
  return (
    <span className="inline-flex items-center gap-1 font-semibold">
      not sent
      <button type="button" onClick={() => void retry()} className="rounded border border-current px-1">Retry</button>
      <button type="button" onClick={() => client.cancelPendingEvent(event)} className="rounded border border-current px-1">Discard</button>
    </span>
  );
}

/** The text shown for an event's body, without a reply's quoted fallback. */
export function bodyText(event: MatrixEvent): string {
  const body = event.getContent().body;
  if (typeof body !== "string") return "";
  return event.replyEventId ? stripReplyFallback(body) : body;
}

function Body({ client, room, event, tick }: { client: MatrixClient; room: Room; event: MatrixEvent; tick: number }) {
  if (event.isDecryptionFailure()) return <UndecryptableNotice client={client} event={event} />;
  if (event.getType() === EventType.RoomMessageEncrypted) return <p className="italic opacity-70">Decrypting…</p>;
  const content = event.getContent();
  const msgtype = content.msgtype as string | undefined;
  if (msgtype && FILE_TYPES.has(msgtype)) {
    const message = { content, roomId: event.getRoomId() ?? "", sender: event.getSender() ?? "" };
    return <FileView client={client} message={message} tick={tick} msgtype={msgtype as "m.image" | "m.file" | "m.video" | "m.audio"} />;
  }
  if (msgtype === "m.emote") return <p className="italic">* {event.sender?.name} {bodyText(event)}</p>;
  return <TextBody client={client} text={bodyText(event)} encrypted={event.isEncrypted() || room.hasEncryptionStateEvent()} />;
}

/** A text message and a preview of its first link; its markdown is parsed once per text, not
 * on every render of the row. */
function TextBody({ client, text, encrypted }: { client: MatrixClient; text: string; encrypted: boolean }) {
  const parsed = useMemo(() => parseMarkdown(text), [text]);
  const [link] = useMemo(() => linksOf(parsed), [parsed]);
  return (
    <>
      <Markdown parsed={parsed} />
      {link && <LinkPreviewCard client={client} url={link} encrypted={encrypted} />}
    </>
  );
}

function UndecryptableNotice({ client, event }: { client: MatrixClient; event: MatrixEvent }) {
  const toast = useToast();
  const [asked, setAsked] = useState(false);
  async function ask(): Promise<void> {
    setAsked(true);
    try {
      await client.getCrypto()?.checkKeyBackupAndEnable();
      await client.decryptEventIfNeeded(event, { isRetry: true });
      toast(event.isDecryptionFailure() ? "Keys requested. The message opens when a device that has them shares them." : "Message decrypted.", "info");
    } catch (err) {
      toast(errorSentence(err, "request the keys"), "error");
    }
  }
  return (
    <div className="space-y-1">
      <p className="italic">Unable to decrypt this message: the key has not arrived from the sender’s device yet, or this device was added after it was sent.</p>
      <button type="button" disabled={asked} onClick={() => void ask()} className="rounded border border-current px-2 py-0.5 text-xs disabled:opacity-60">
        {asked ? "Keys requested" : "Request keys"}
      </button>
    </div>
  );
}

function ReplyQuote({ room, eventId }: { room: Room; eventId: string }) {
  const parent = room.findEventById(eventId);
  const who = parent ? (parent.sender?.name ?? localpart(parent.getSender() ?? "")) : "";
  const text = parent ? (parent.isRedacted() ? "This message was deleted." : plainText(bodyText(parent)) || "a file") : "an earlier message";
  return (
    <blockquote className="mb-1 border-l-4 border-current/40 pl-2 text-xs opacity-80" aria-label={`In reply to ${who || "an earlier message"}`}>
      {who && <span className="font-semibold">{who}: </span>}
      <span className="line-clamp-2">{text}</span>
    </blockquote>
  );
}

function Reactions({ client, room, event }: { client: MatrixClient; room: Room; event: MatrixEvent }) {
  const toast = useToast();
  const me = client.getUserId() ?? "";
  const relations = room.relations.getChildEventsForEvent(event.getId() ?? "", "m.annotation", EventType.Reaction);
  const list = (relations?.getRelations() ?? [])
    .filter((r) => !r.isRedacted())
    .map((r) => ({ key: String(r.getRelation()?.key ?? ""), sender: r.getSender() ?? "", eventId: r.getId() ?? "" }))
    .filter((r) => r.key);
  const groups = groupReactions(list, me);
  if (!groups.length) return null;
  async function toggle(key: string, mine: string | undefined): Promise<void> {
    try {
      if (mine) await client.redactEvent(room.roomId, mine);
      else await client.sendEvent(room.roomId, EventType.Reaction, reactionContent(key, event.getId() ?? "") as never);
    } catch (err) {
      toast(errorSentence(err, "react"), "error");
    }
  }
  return (
    <ul className="mt-1 flex flex-wrap gap-1" aria-label="Reactions">
      {groups.map((g) => (
        <li key={g.key}>
          <button
            type="button"
            aria-pressed={!!g.mine}
            aria-label={`${g.key} ${g.count}, from ${g.senders.map((s) => room.getMember(s)?.name ?? localpart(s)).join(", ")}`}
            onClick={() => void toggle(g.key, g.mine)}
            className={`rounded-full border px-2 text-xs ${g.mine ? "border-amber-400 bg-amber-100 text-slate-900" : "border-slate-300 bg-white text-slate-900 dark:border-slate-600 dark:bg-slate-700 dark:text-slate-100"}`}
          >
            {g.key} {g.count}
          </button>
        </li>
      ))}
    </ul>
  );
}

function Actions({ client, room, event, mine, onReply, onEdit }: { client: MatrixClient; room: Room; event: MatrixEvent; mine: boolean } & MessageActions) {
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const me = client.getUserId() ?? "";
  const canDelete = mine || permissions(room, me).can("redact");
  const isText = typeof event.getContent().msgtype === "string" && !FILE_TYPES.has(event.getContent().msgtype as string);
  const item = "block w-full rounded px-3 py-1.5 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-700";

  async function react(key: string): Promise<void> {
    setOpen(false);
    try {
      await client.sendEvent(room.roomId, EventType.Reaction, reactionContent(key, event.getId() ?? "") as never);
    } catch (err) {
      toast(errorSentence(err, "react"), "error");
    }
  }
  async function remove(): Promise<void> {
    try {
      await client.redactEvent(room.roomId, event.getId() ?? "");
      toast("Message deleted.", "success");
    } catch (err) {
      toast(errorSentence(err, "delete the message"), "error");
    }
  }

  return (
    <span className="relative">
      <button type="button" aria-label="Message actions" aria-expanded={open} onClick={() => setOpen(!open)} className="rounded px-1 leading-none hover:bg-black/10">
        ⋯
      </button>
      {open && (
        <span role="menu" aria-label="Message actions" onKeyDown={(e) => e.key === "Escape" && setOpen(false)} className={`absolute bottom-5 z-20 w-48 rounded-lg border border-slate-200 bg-white p-1 text-slate-900 shadow-lg dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100 ${mine ? "right-0" : "left-0"}`}>
          <span className="flex flex-wrap gap-0.5 px-1 pb-1">
            {QUICK_REACTIONS.map((key) => (
              <button key={key} type="button" role="menuitem" aria-label={`React with ${key}`} onClick={() => void react(key)} className="rounded px-1 text-base hover:bg-slate-100 dark:hover:bg-slate-700">
                {key}
              </button>
            ))}
          </span>
          <button type="button" role="menuitem" className={item} onClick={() => { setOpen(false); onReply(event); }}>Reply</button>
          {mine && isText && <button type="button" role="menuitem" className={item} onClick={() => { setOpen(false); onEdit(event); }}>Edit</button>}
          {canDelete && <button type="button" role="menuitem" className={`${item} text-rose-700 dark:text-rose-300`} onClick={() => { setOpen(false); setConfirm(true); }}>Delete</button>}
        </span>
      )}
      {confirm && (
        <ConfirmDialog title="Delete message?" text="It is removed for everyone in this room. This cannot be undone." confirm="Delete" danger onConfirm={() => void remove()} onClose={() => setConfirm(false)} />
      )}
    </span>
  );
}
