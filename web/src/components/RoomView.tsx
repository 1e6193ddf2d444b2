/** One open room: header, timeline, typing notice and composer; marks what was seen as read. */

import { type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { useRetentionText } from "../matrix/retention";
import { Composer } from "./Composer";
import { BackIcon, BellIcon, BellOffIcon, GearIcon, LockIcon, ShieldIcon } from "./Icons";
import { isMuted, setMuted } from "../matrix/mute";
import { useShowVerification } from "./Verification";
import { useUserVerified } from "../matrix/trust";
import { RoomSettings } from "./RoomSettings";
import { PresenceDot } from "./PresenceDot";
import { Timeline } from "./Timeline";
import { useToast } from "./Toasts";
import { errorSentence } from "../lib/errors";
import type { Shared } from "../lib/share";

interface Props {
  client: MatrixClient;
  room: Room;
  tick: number;
  /** Something shared from another app, for this room's composer to take. */
  shared: Shared | undefined;
  onTakeShared: () => void;
  onBack: () => void;
}

export function RoomView({ client, room, tick, shared, onTakeShared, onBack }: Props) {
  const me = client.getUserId() ?? "";
  const toast = useToast();
  const [replyTo, setReplyTo] = useState<MatrixEvent | undefined>();
  const [editing, setEditing] = useState<MatrixEvent | undefined>();
  const [settings, setSettings] = useState(false);
  const muted = isMuted(client, room.roomId);

  async function toggleMute(): Promise<void> {
    try {
      await setMuted(client, room.roomId, !muted);
      toast(muted ? `Notifications for ${room.name} are on.` : `${room.name} is muted.`, "info");
    } catch (err) {
      toast(errorSentence(err, muted ? "unmute the room" : "mute the room"), "error");
    }
  }
  const retention = useRetentionText(client, room, tick);

  async function leave(): Promise<void> {
    if (!window.confirm(`Leave ${room.name}?`)) return;
    try {
      await client.leave(room.roomId);
      toast(`You left ${room.name}.`, "info");
      onBack();
    } catch (err) {
      toast(errorSentence(err, "leave the room"), "error");
    }
  }
  const peer = room.guessDMUserId();
  const dmPeer = peer && peer !== me && room.getJoinedMemberCount() === 2 ? peer : undefined;
  const peerVerified = useUserVerified(client, dmPeer, tick);
  const showVerification = useShowVerification();

  async function verify(userId: string): Promise<void> {
    try {
      const request = await client.getCrypto()?.requestVerificationDM(userId, room.roomId);
      if (request) showVerification(request);
    } catch (err) {
      toast(errorSentence(err, "start the verification"), "error");
    }
  }
  const typing = room.getMembers().filter((m) => m.typing && m.userId !== me).map((m) => m.name);
  const last = room.getLiveTimeline().getEvents().at(-1);

  useEffect(() => {
    if (!last || last.getSender() === me || last.isSending() || !document.hasFocus()) return;
    if (room.hasUserReadEvent(me, last.getId() ?? "")) return;
    client.sendReadReceipt(last).catch(() => undefined);
  }, [client, room, last, me, tick]);

  return (
    <section aria-label={room.name} className="flex min-h-0 flex-1 flex-col">
      <div className="flex items-center gap-2 border-b border-slate-200 px-3 py-2 dark:border-slate-700">
        <button type="button" onClick={onBack} className="rounded px-2 py-1 md:hidden" aria-label="Back to chats">
          <BackIcon />
        </button>
        {peer && peer !== me && <PresenceDot client={client} userId={peer} />}
        <h2 className="min-w-16 flex-1 truncate font-semibold">{room.name}</h2>
        {dmPeer && room.hasEncryptionStateEvent() && (peerVerified ? (
          <span className="inline-flex items-center gap-1 text-xs text-emerald-700 dark:text-emerald-300" title="You verified this person's identity"><ShieldIcon /> Verified</span>
        ) : (
          <button type="button" onClick={() => void verify(dmPeer)} className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800">Verify</button>
        ))}
        <span className="inline-flex items-center gap-1 text-xs text-slate-500 dark:text-slate-400">
          {room.hasEncryptionStateEvent() && <span role="img" aria-label="End-to-end encrypted" className="sm:hidden"><LockIcon /></span>}
          <span className="hidden items-center gap-1 sm:inline-flex">
            {room.hasEncryptionStateEvent() && <LockIcon />}
            {room.hasEncryptionStateEvent() ? "End-to-end encrypted" : "Not encrypted"}
          </span>
        </span>
        <button type="button" onClick={() => void toggleMute()} aria-pressed={muted} aria-label="Mute room" title={muted ? "Muted: press to unmute" : "Mute this room"} className="rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800">
          {muted ? <BellOffIcon /> : <BellIcon />}
        </button>
        <button type="button" onClick={() => setSettings(true)} aria-label="Room settings" title="Room settings" className="rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800">
          <GearIcon />
        </button>
        <button type="button" onClick={() => void leave()} className="rounded px-2 py-1 text-xs hover:bg-slate-100 dark:hover:bg-slate-800">
          Leave
        </button>
      </div>
      {settings && <RoomSettings client={client} room={room} onClose={() => setSettings(false)} />}
      {retention && (
        <p role="note" className="border-b border-slate-200 bg-sky-50 px-3 py-1 text-center text-xs text-sky-900 dark:border-slate-700 dark:bg-sky-950 dark:text-sky-100">
          {retention}
        </p>
      )}
      <Timeline
        client={client}
        room={room}
        tick={tick}
        onReply={(e) => {
          setEditing(undefined);
          setReplyTo(e);
        }}
        onEdit={(e) => {
          setReplyTo(undefined);
          setEditing(e);
        }}
      />
      <p aria-live="polite" className="h-5 px-3 text-xs text-slate-500 dark:text-slate-400">
        {typing.length > 0 && `${typing.join(", ")} ${typing.length === 1 ? "is" : "are"} typing…`}
      </p>
      <Composer
        client={client}
        room={room}
        shared={shared}
        onTakeShared={onTakeShared}
        replyTo={replyTo}
        editing={editing}
        onCancel={() => {
          setReplyTo(undefined);
          setEditing(undefined);
        }}
      />
    </section>
  );
}
