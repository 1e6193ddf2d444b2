/**
 * Room settings: name, topic and avatar; members with their role, kick and ban; invite; the
 * banned list. Controls show only when the person's power level allows the change.
 */

import { EventType, type MatrixClient, type Room, type RoomMember } from "matrix-js-sdk";
import { type FormEvent, useState } from "react";
import { errorSentence } from "../lib/errors";
import { toUserId } from "../lib/format";
import { ROLES, roleName } from "../lib/rooms";
import { serverNameOf } from "../matrix/client";
import { permissions } from "../matrix/power";
import { ConfirmDialog } from "./ConfirmDialog";
import { buttonClass, fieldClass, Panel, plainButtonClass } from "./Panel";
import { useToast } from "./Toasts";

interface Props {
  client: MatrixClient;
  room: Room;
  onClose: () => void;
}

export function RoomSettings({ client, room, onClose }: Props) {
  return (
    <Panel title="Room settings" onClose={onClose}>
      <Details client={client} room={room} />
      <Invite client={client} room={room} />
      <Members client={client} room={room} />
    </Panel>
  );
}

function useAction(): (what: string, done: string, work: () => Promise<unknown>) => Promise<void> {
  const toast = useToast();
  return async (what, done, work) => {
    try {
      await work();
      toast(done, "success");
    } catch (err) {
      toast(errorSentence(err, what), "error");
    }
  };
}

function Details({ client, room }: { client: MatrixClient; room: Room }) {
  const me = client.getUserId() ?? "";
  const state = room.currentState;
  const [name, setName] = useState(room.name);
  const [topic, setTopic] = useState((state.getStateEvents(EventType.RoomTopic, "")?.getContent().topic as string | undefined) ?? "");
  const run = useAction();
  const may = permissions(room, me);
  const canName = may.canState(EventType.RoomName);
  const canTopic = may.canState(EventType.RoomTopic);
  const canAvatar = may.canState(EventType.RoomAvatar);

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    if (canName && name.trim() !== room.name) await run("rename the room", "Room name saved.", () => client.setRoomName(room.roomId, name.trim()));
    const oldTopic = state.getStateEvents(EventType.RoomTopic, "")?.getContent().topic ?? "";
    if (canTopic && topic.trim() !== oldTopic) await run("change the topic", "Topic saved.", () => client.setRoomTopic(room.roomId, topic.trim()));
  }

  async function avatar(file: File): Promise<void> {
    await run("change the room picture", "Room picture changed.", async () => {
      const { content_uri } = await client.uploadContent(file, { type: file.type, includeFilename: false });
      await client.sendStateEvent(room.roomId, EventType.RoomAvatar, { url: content_uri } as never, "");
    });
  }

  return (
    <form onSubmit={(e) => void save(e)} className="space-y-2">
      <label className="block space-y-1">
        <span className="text-sm font-medium">Room name</span>
        <input className={fieldClass} value={name} disabled={!canName} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="block space-y-1">
        <span className="text-sm font-medium">Topic</span>
        <input className={fieldClass} value={topic} disabled={!canTopic} onChange={(e) => setTopic(e.target.value)} />
      </label>
      <div className="flex flex-wrap items-center gap-2">
        {(canName || canTopic) && <button type="submit" className={buttonClass}>Save</button>}
        {canAvatar && (
          <label className={`${plainButtonClass} cursor-pointer py-2 text-sm`}>
            Change room picture
            <input type="file" accept="image/*" className="sr-only" onChange={(e) => e.target.files?.[0] && void avatar(e.target.files[0])} />
          </label>
        )}
      </div>
    </form>
  );
}

function Invite({ client, room }: { client: MatrixClient; room: Room }) {
  const [who, setWho] = useState("");
  const run = useAction();
  if (!permissions(room, client.getUserId() ?? "").can("invite")) return null;
  async function invite(e: FormEvent): Promise<void> {
    e.preventDefault();
    const userId = toUserId(who, serverNameOf(client));
    if (!who.trim()) return;
    await run(`invite ${userId}`, `${userId} was invited.`, () => client.invite(room.roomId, userId));
    setWho("");
  }
  return (
    <form onSubmit={(e) => void invite(e)} className="flex items-end gap-2">
      <label className="block flex-1 space-y-1">
        <span className="text-sm font-medium">Invite someone</span>
        <input className={fieldClass} value={who} onChange={(e) => setWho(e.target.value)} placeholder="@name:server or name" />
      </label>
      <button type="submit" className={buttonClass}>Invite</button>
    </form>
  );
}

type Pending = { kind: "kick" | "ban"; member: RoomMember } | undefined;

function Members({ client, room }: { client: MatrixClient; room: Room }) {
  const me = client.getUserId() ?? "";
  const run = useAction();
  const [pending, setPending] = useState<Pending>();
  const may = permissions(room, me);
  const myLevel = may.level;
  const members = room.getMembers().filter((m) => m.membership === "join" || m.membership === "invite");
  const banned = room.getMembersWithMembership("ban");
  const canKick = may.can("kick");
  const canBan = may.can("ban");
  const canSetRoles = may.canState(EventType.RoomPowerLevels);

  async function setRole(member: RoomMember, level: number): Promise<void> {
    await run(`change ${member.name}'s role`, `${member.name} is now ${roleName(level)}.`, () => client.setPowerLevel(room.roomId, member.userId, level));
  }
  async function remove(kind: "kick" | "ban", member: RoomMember): Promise<void> {
    if (kind === "kick") await run(`remove ${member.name}`, `${member.name} was removed from the room.`, () => client.kick(room.roomId, member.userId));
    else await run(`ban ${member.name}`, `${member.name} was banned.`, () => client.ban(room.roomId, member.userId));
  }

  return (
    <section aria-labelledby="members-heading" className="space-y-2">
      <h3 id="members-heading" className="text-sm font-semibold">People ({members.length})</h3>
      <ul className="divide-y divide-slate-200 dark:divide-slate-700">
        {members.map((m) => {
          const level = may.levelOf(m.userId);
          const editable = m.userId !== me && level < myLevel;
          return (
            <li key={m.userId} className="flex flex-wrap items-center gap-2 py-2 text-sm">
              <span className="min-w-0 flex-1 truncate">
                {m.name} <span className="text-xs text-slate-500 dark:text-slate-400">{m.userId}{m.membership === "invite" ? " (invited)" : ""}</span>
              </span>
              {canSetRoles && editable ? (
                <select aria-label={`Role of ${m.name}`} value={level} onChange={(e) => void setRole(m, Number(e.target.value))} className="rounded border border-slate-300 bg-white px-1 py-1 text-xs dark:border-slate-600 dark:bg-slate-900">
                  {ROLES.filter((r) => r.level <= myLevel).map((r) => <option key={r.level} value={r.level}>{r.label}</option>)}
                  {!ROLES.some((r) => r.level === level) && <option value={level}>{roleName(level)}</option>}
                </select>
              ) : (
                <span className="text-xs text-slate-500 dark:text-slate-400">{roleName(level)}</span>
              )}
              {canKick && editable && <button type="button" className={plainButtonClass} aria-label={`Remove ${m.name}`} onClick={() => setPending({ kind: "kick", member: m })}>Remove</button>}
              {canBan && editable && <button type="button" className={plainButtonClass} aria-label={`Ban ${m.name}`} onClick={() => setPending({ kind: "ban", member: m })}>Ban</button>}
            </li>
          );
        })}
      </ul>
      {banned.length > 0 && (
        <>
          <h3 className="text-sm font-semibold">Banned</h3>
          <ul>
            {banned.map((m) => (
              <li key={m.userId} className="flex items-center gap-2 py-1 text-sm">
                <span className="flex-1 truncate">{m.userId}</span>
                {canBan && <button type="button" className={plainButtonClass} aria-label={`Unban ${m.userId}`} onClick={() => void run(`unban ${m.userId}`, `${m.userId} was unbanned.`, () => client.unban(room.roomId, m.userId))}>Unban</button>}
              </li>
            ))}
          </ul>
        </>
      )}
      {pending && (
        <ConfirmDialog
          title={pending.kind === "kick" ? `Remove ${pending.member.name}?` : `Ban ${pending.member.name}?`}
          text={pending.kind === "kick" ? "They leave the room and can come back if invited again." : "They leave the room and cannot come back until unbanned."}
          confirm={pending.kind === "kick" ? "Remove" : "Ban"}
          danger
          onConfirm={() => void remove(pending.kind, pending.member)}
          onClose={() => setPending(undefined)}
        />
      )}
    </section>
  );
}
