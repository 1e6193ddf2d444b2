/** The Help page (Account menu → Help) and the short first-run guide shown until dismissed. */

import { useState } from "react";
import { Panel } from "./Panel";

const GUIDE_KEY = "tessera-guide-done";

const TOPICS: ReadonlyArray<{ title: string; points: string[] }> = [
  {
    title: "Getting started",
    points: [
      "“Start chat” opens a private, end-to-end encrypted conversation with one person; “New room” makes a group.",
      "Invitations appear at the top of the list: accept or decline them.",
      "Open a chat’s settings (the gear) to rename it, set a topic or picture, invite people and change their roles.",
    ],
  },
  {
    title: "Messages",
    points: [
      "Enter sends, Shift+Enter starts a new line. **bold**, *italic*, `code`, lists and quotes are formatted.",
      "The ⋯ button on a message lets you reply, react, edit your own text or delete it (everyone sees it deleted).",
      "The timer beside the composer makes a message disappear for everyone after that time.",
      "The bell in a chat’s header mutes it: no notifications and no unread count.",
    ],
  },
  {
    title: "Encryption and your keys",
    points: [
      "Keys are made in this browser and never leave it unencrypted. The server cannot read your messages or files.",
      "Compare emoji with someone (“Verify” in a chat’s header) to be sure you talk to them and not an impostor.",
      "Turn on key backup (Account menu → Security and key backup) and keep the recovery key safe: it lets a new device read old messages.",
      "A message that cannot be decrypted yet offers “Request keys”; restoring from the backup also opens it.",
    ],
  },
  {
    title: "Files",
    points: [
      "The paper clip sends any file; in encrypted chats it is encrypted in your browser before upload.",
      "Images and videos show inline once decrypted; every file can be downloaded.",
      "On a phone, install Tessera from the browser menu and share links or files into it from other apps.",
    ],
  },
  {
    title: "Keyboard",
    points: ["Tab and Shift+Tab move between controls; Enter or Space presses them.", "Escape closes dialogs and menus, and cancels a reply or an edit."],
  },
];

export function Help({ onClose }: { onClose: () => void }) {
  return (
    <Panel title="Help" onClose={onClose}>
      {TOPICS.map((t) => (
        <section key={t.title} aria-label={t.title} className="space-y-1">
          <h3 className="font-semibold">{t.title}</h3>
          <ul className="list-disc space-y-1 pl-5 text-sm">
            {t.points.map((p) => <li key={p}>{p}</li>)}
          </ul>
        </section>
      ))}
    </Panel>
  );
}

/** Three steps for a new person; hidden for good once dismissed in this browser. */
export function FirstRunGuide({ onHelp }: { onHelp: () => void }) {
  const [done, setDone] = useState(() => localStorage.getItem(GUIDE_KEY) === "1");
  if (done) return null;
  return (
    <section aria-label="Getting started" className="rounded-xl border border-slate-200 p-4 text-left text-sm text-slate-700 dark:border-slate-700 dark:text-slate-200">
      <h2 className="mb-2 font-semibold">Welcome to Tessera</h2>
      <ol className="list-decimal space-y-1 pl-5">
        <li>Press “Start chat” and type someone’s username to talk privately.</li>
        <li>Press “Verify” in the chat and compare emoji with them, so you know it is really them.</li>
        <li>Turn on key backup in the Account menu (☰) and keep your recovery key safe.</li>
      </ol>
      <div className="mt-3 flex gap-2">
        <button type="button" onClick={onHelp} className="rounded border border-slate-300 px-3 py-1 dark:border-slate-600">Open Help</button>
        <button type="button" onClick={() => { localStorage.setItem(GUIDE_KEY, "1"); setDone(true); }} className="rounded bg-indigo-700 px-3 py-1 text-white">Got it</button>
      </div>
    </section>
  );
}
