/** The signed-in layout: room list beside the open room; one pane at a time on a phone. */

import { type MatrixClient, NotificationCountType, type Room } from "matrix-js-sdk";
import { useEffect, useMemo, useState } from "react";
import { localpart } from "../lib/format";
import { type RoomSummary } from "../lib/rooms";
import { type Shared, sharedText, takeShare } from "../lib/share";
import { applyTheme, storedTheme, type Theme } from "../lib/theme";
import { Chime, setSoundEnabled, soundEnabled } from "../lib/sound";
import { useClientTick } from "../matrix/useClientTick";
import { useNotifications } from "../matrix/useNotifications";
import { SearchIndexer } from "../matrix/searchIndexer";
import { isMuted } from "../matrix/mute";
import { FirstRunGuide, Help } from "./Help";
import { Devices } from "./Devices";
import { Search } from "./Search";
import { Security } from "./Security";
import { VerificationProvider } from "./Verification";
import { BellIcon, MenuIcon, MoonIcon, SunIcon } from "./Icons";
import { RoomList } from "./RoomList";
import { RoomView } from "./RoomView";
import { useToast } from "./Toasts";

function summarise(client: MatrixClient, room: Room): RoomSummary {
  const membership = room.getMyMembership();
  const peer = room.guessDMUserId();
  const isDm = isDirect(client, room) || (room.getJoinedMemberCount() + room.getInvitedMemberCount() === 2 && !room.name.startsWith("#"));
  return {
    roomId: room.roomId,
    name: room.name || localpart(peer),
    kind: membership === "invite" ? "invite" : isDm ? "dm" : "group",
    unread: room.getUnreadNotificationCount(NotificationCountType.Total),
    highlights: room.getUnreadNotificationCount(NotificationCountType.Highlight),
    lastActivity: room.getLastActiveTimestamp(),
    encrypted: room.hasEncryptionStateEvent(),
    peer: peer !== client.getUserId() ? peer : undefined,
    muted: isMuted(client, room.roomId),
  };
}

function isDirect(client: MatrixClient, room: Room): boolean {
  if (room.getDMInviter()) return true;
  const direct = client.getAccountData("m.direct" as never)?.getContent() as Record<string, string[]> | undefined;
  return Object.values(direct ?? {}).some((ids) => ids.includes(room.roomId));
}

/** What another app shared into Tessera (text in a GET share's URL, or files and text kept by
 * the service worker), until a chat takes it. */
function useShared(): [Shared | undefined, (s: Shared | undefined) => void] {
  const [shared, setShared] = useState<Shared | undefined>(() => {
    const text = sharedText(new URLSearchParams(window.location.search));
    return text ? { text, files: [] } : undefined;
  });
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    if (params.get("shared") === "1") takeShare(Date.now()).then((s) => s && setShared(s), () => undefined);
    if (window.location.pathname === "/share" || params.has("shared")) window.history.replaceState(null, "", "/");
  }, []);
  return [shared, setShared];
}

/** The persistent search index, kept up to date while signed in (undefined without IndexedDB). */
function useSearchIndexer(client: MatrixClient): SearchIndexer | undefined {
  const [indexer, setIndexer] = useState<SearchIndexer>();
  useEffect(() => {
    let live = true;
    let made: SearchIndexer | undefined;
    SearchIndexer.start(client).then(
      (i) => {
        made = i;
        if (live) setIndexer(i);
        else i.stop();
      },
      () => undefined,
    );
    return () => {
      live = false;
      made?.stop();
    };
  }, [client]);
  return indexer;
}

export function ChatScreen({ client, onSignOut }: { client: MatrixClient; onSignOut: () => void }) {
  const tick = useClientTick(client);
  const syncState = client.getSyncState();
  const offline = syncState === "ERROR" || syncState === "RECONNECTING";
  const [openRoomId, setOpenRoomId] = useState<string | undefined>(undefined);
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [panel, setPanel] = useState<"devices" | "security" | "help" | "search" | undefined>();
  const [menu, setMenu] = useState(false);
  const [shared, setShared] = useShared();

  const rooms = useMemo(
    () => client.getRooms().filter((r) => ["join", "invite"].includes(r.getMyMembership())).map((r) => summarise(client, r)),
    [client, tick],
  );
  const openRoom = openRoomId ? client.getRoom(openRoomId) : null;
  const toast = useToast();
  const [canNotify, setCanNotify] = useState(() => typeof Notification === "undefined" || Notification.permission !== "default");
  const [chime] = useState(() => new Chime());
  const [sound, setSound] = useState(soundEnabled);
  useNotifications(client, openRoomId, chime);
  const indexer = useSearchIndexer(client);

  async function askToNotify(): Promise<void> {
    const answer = await Notification.requestPermission();
    setCanNotify(true);
    toast(answer === "granted" ? "Notifications are on." : "Notifications stay off; you can allow them in the browser's site settings.", "info");
  }

  useEffect(() => {
    const unread = rooms.reduce((n, r) => n + r.unread, 0);
    document.title = unread ? `(${unread}) Tessera` : "Tessera";
  }, [rooms]);


  function toggleSound(): void {
    const next = !sound;
    if (next) chime.unlock();
    setSoundEnabled(next);
    setSound(next);
    toast(next ? "A sound plays for new messages." : "New messages make no sound.", "info");
    if (next) chime.play();
  }

  function toggleTheme(): void {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next);
    setTheme(next);
  }

  return (
    <VerificationProvider client={client}>
    <div className="flex h-full flex-col">
      <header className="flex items-center gap-2 border-b border-slate-200 px-3 py-2 dark:border-slate-700">
        <h1 className="font-semibold">Tessera</h1>
        <span className="truncate text-sm text-slate-500 dark:text-slate-400" title="Signed in as">
          {client.getUserId()}
        </span>
        <span className="flex-1" />
        {!canNotify && (
          <button type="button" onClick={() => void askToNotify()} className="rounded px-2 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-800" aria-label="Enable notifications" title="Enable notifications">
            <BellIcon />
          </button>
        )}
        <button type="button" onClick={toggleTheme} className="rounded px-2 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-800" aria-label={theme === "dark" ? "Use light theme" : "Use dark theme"}>
          {theme === "dark" ? <SunIcon /> : <MoonIcon />}
        </button>
        <div className="relative">
          <button type="button" aria-label="Account menu" aria-expanded={menu} onClick={() => setMenu(!menu)} className="rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800">
            <MenuIcon />
          </button>
          {menu && (
            <div role="menu" aria-label="Account menu" onKeyDown={(e) => e.key === "Escape" && setMenu(false)} className="absolute right-0 z-30 mt-1 w-52 rounded-lg border border-slate-200 bg-white p-1 shadow-lg dark:border-slate-600 dark:bg-slate-800">
              <button type="button" role="menuitemcheckbox" aria-checked={sound} onClick={() => { setMenu(false); toggleSound(); }} className="block w-full rounded px-3 py-2 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-700">
                Sound for new messages{sound && <span aria-hidden="true"> ✓</span>}
              </button>
              {(
                [
                  ["Search messages", () => setPanel("search")],
                  ["Security and key backup", () => setPanel("security")],
                  ["Devices", () => setPanel("devices")],
                  ["Help", () => setPanel("help")],
                  ["Sign out", onSignOut],
                ] as const
              ).map(([label, action]) => (
                <button key={label} type="button" role="menuitem" onClick={() => { setMenu(false); action(); }} className="block w-full rounded px-3 py-2 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-700">
                  {label}
                </button>
              ))}
            </div>
          )}
        </div>
      </header>
      {panel === "devices" && <Devices client={client} onClose={() => setPanel(undefined)} />}
      {panel === "security" && <Security client={client} onClose={() => setPanel(undefined)} />}
      {panel === "help" && <Help onClose={() => setPanel(undefined)} />}
      {panel === "search" && <Search client={client} indexer={indexer} onOpen={setOpenRoomId} onClose={() => setPanel(undefined)} />}
      {shared && !openRoom && (
        <p role="status" className="flex items-center justify-center gap-2 bg-indigo-50 px-3 py-1 text-center text-sm text-indigo-900 dark:bg-indigo-950 dark:text-indigo-100">
          Choose a chat to share {shared.files.length ? `${shared.files.length} ${shared.files.length === 1 ? "file" : "files"}` : "the text"} into.
          <button type="button" onClick={() => setShared(undefined)} className="rounded border border-current px-2 text-xs">Cancel sharing</button>
        </p>
      )}
      {offline && (
        <p role="alert" className="bg-amber-100 px-3 py-1 text-center text-sm text-amber-900 dark:bg-amber-900 dark:text-amber-100">
          You are offline. Reconnecting… Messages wait to be sent; any marked “not sent” can be retried.
        </p>
      )}
      <div className="flex min-h-0 flex-1">
        <div className={`${openRoom ? "hidden md:flex" : "flex"} w-full flex-col border-r border-slate-200 md:w-80 dark:border-slate-700`}>
          <RoomList client={client} rooms={rooms} selected={openRoomId} onOpen={setOpenRoomId} />
        </div>
        <div className={`${openRoom ? "flex" : "hidden md:flex"} min-w-0 flex-1 flex-col`}>
          {openRoom ? (
            <RoomView key={openRoom.roomId} client={client} room={openRoom} tick={tick} shared={shared} onTakeShared={() => setShared(undefined)} onBack={() => setOpenRoomId(undefined)} />
          ) : (
            <div className="m-auto max-w-md space-y-4 p-6 text-center text-slate-500 dark:text-slate-400">
              <p>Pick a chat, or press “Start chat” to message someone. New chats are end-to-end encrypted.</p>
              <FirstRunGuide onHelp={() => setPanel("help")} />
            </div>
          )}
        </div>
      </div>
    </div>
    </VerificationProvider>
  );
}
