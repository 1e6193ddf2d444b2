/** The room list: search, new room / start chat, invites to accept or decline, unread badges. */

import { type MatrixClient, Preset, Visibility } from "matrix-js-sdk";
import { useState } from "react";
import { errorSentence } from "../lib/errors";
import { filterRooms, type RoomSummary, sortRooms, unreadBadge } from "../lib/rooms";
import { toUserId } from "../lib/format";
import { serverNameOf } from "../matrix/client";
import { BellOffIcon, LockIcon } from "./Icons";
import { PresenceDot } from "./PresenceDot";
import { PromptDialog } from "./PromptDialog";
import { useToast } from "./Toasts";

const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

interface Props {
  client: MatrixClient;
  rooms: RoomSummary[];
  selected?: string;
  onOpen: (roomId: string) => void;
}

export function RoomList({ client, rooms, selected, onOpen }: Props) {
  const toast = useToast();
  const [query, setQuery] = useState("");
  const [dialog, setDialog] = useState<"room" | "chat" | undefined>();
  const shown = sortRooms(filterRooms(rooms, query));

  async function startChat(who: string): Promise<void> {
    const userId = toUserId(who, serverNameOf(client));
    try {
      const { room_id } = await client.createRoom({
        preset: Preset.TrustedPrivateChat,
        visibility: Visibility.Private,
        is_direct: true,
        invite: [userId],
        initial_state: [ENCRYPTION],
      });
      const direct = (client.getAccountData("m.direct" as never)?.getContent() ?? {}) as Record<string, string[]>;
      await client.setAccountData("m.direct" as never, { ...direct, [userId]: [...(direct[userId] ?? []), room_id] } as never);
      toast(`Encrypted chat with ${userId} started.`, "success");
      onOpen(room_id);
    } catch (err) {
      toast(errorSentence(err, "start the chat"), "error");
    }
  }

  async function newRoom(name: string, invites: string): Promise<void> {
    const invite = invites.split(/[\s,]+/).filter(Boolean).map((u) => toUserId(u, serverNameOf(client)));
    try {
      const { room_id } = await client.createRoom({
        name: name.trim(),
        preset: Preset.PrivateChat,
        visibility: Visibility.Private,
        invite,
        initial_state: [ENCRYPTION],
      });
      toast(`Encrypted room “${name.trim()}” created.`, "success");
      onOpen(room_id);
    } catch (err) {
      toast(errorSentence(err, "create the room"), "error");
    }
  }

  async function answer(roomId: string, accept: boolean): Promise<void> {
    try {
      if (accept) {
        await client.joinRoom(roomId);
        toast("Invitation accepted.", "success");
        onOpen(roomId);
      } else {
        await client.leave(roomId);
        toast("Invitation declined.", "info");
      }
    } catch (err) {
      toast(errorSentence(err, accept ? "join the room" : "decline the invitation"), "error");
    }
  }

  return (
    <nav aria-label="Rooms" className="flex min-h-0 flex-1 flex-col">
      <div className="flex gap-2 p-3">
        <button type="button" onClick={() => setDialog("chat")} className="flex-1 rounded-lg bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700">
          Start chat
        </button>
        <button type="button" onClick={() => setDialog("room")} className="flex-1 rounded-lg border border-indigo-600 px-3 py-2 text-sm font-medium text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-slate-800">
          New room
        </button>
      </div>
      <div className="px-3 pb-2">
        <input type="search" aria-label="Search chats" placeholder="Search chats" value={query} onChange={(e) => setQuery(e.target.value)} className="w-full rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-600 dark:bg-slate-800" />
      </div>
      <ul className="min-h-0 flex-1 overflow-y-auto">
        {shown.length === 0 && <li className="p-4 text-sm text-slate-500 dark:text-slate-400">No chats yet.</li>}
        {shown.map((r) => (
          <li key={r.roomId}>
            {r.kind === "invite" ? (
              <div className="border-b border-slate-100 px-3 py-2 dark:border-slate-800">
                <p className="truncate text-sm"><strong>{r.name}</strong> invited you</p>
                <div className="mt-1 flex gap-2">
                  <button type="button" onClick={() => void answer(r.roomId, true)} className="rounded bg-emerald-600 px-2 py-1 text-xs text-white" aria-label={`Accept invitation to ${r.name}`}>Accept</button>
                  <button type="button" onClick={() => void answer(r.roomId, false)} className="rounded border border-slate-400 px-2 py-1 text-xs" aria-label={`Decline invitation to ${r.name}`}>Decline</button>
                </div>
              </div>
            ) : (
              <button type="button" onClick={() => onOpen(r.roomId)} aria-current={r.roomId === selected ? "true" : undefined} className={`flex w-full items-center gap-2 px-3 py-2 text-left hover:bg-slate-100 dark:hover:bg-slate-800 ${r.roomId === selected ? "bg-slate-100 dark:bg-slate-800" : ""}`}>
                {r.kind === "dm" && r.peer ? <PresenceDot client={client} userId={r.peer} /> : <span aria-hidden="true" className="w-2.5 text-slate-400">#</span>}
                <span className={`min-w-0 flex-1 truncate ${r.unread ? "font-semibold" : ""}`}>{r.name}</span>
                {r.muted && <span role="img" className="text-slate-400" title="Muted" aria-label="muted"><BellOffIcon size={12} /></span>}
                {r.encrypted && <span role="img" className="text-slate-400" title="End-to-end encrypted" aria-label="encrypted"><LockIcon /></span>}
                {r.unread > 0 && (
                  <span className={`rounded-full px-2 text-xs text-white ${r.highlights ? "bg-rose-600" : "bg-indigo-600"}`} aria-label={`${r.unread} unread`}>
                    {unreadBadge(r.unread)}
                  </span>
                )}
              </button>
            )}
          </li>
        ))}
      </ul>
      {dialog === "chat" && (
        <PromptDialog title="Start chat" fields={[{ label: "User ID or username", name: "user" }]} submit="Start" onClose={() => setDialog(undefined)} onSubmit={(v) => void startChat(v.user ?? "")} />
      )}
      {dialog === "room" && (
        <PromptDialog title="New room" fields={[{ label: "Room name", name: "name" }, { label: "Invite (user IDs, optional)", name: "invite", optional: true }]} submit="Create" onClose={() => setDialog(undefined)} onSubmit={(v) => void newRoom(v.name ?? "", v.invite ?? "")} />
      )}
    </nav>
  );
}
