/** The composer: text, a self-destruct timer, attaching a file with an upload progress bar. */

import { type MatrixClient, type Room } from "matrix-js-sdk";
import { type FormEvent, useRef, useState } from "react";
import { errorSentence } from "../lib/errors";
import { formatBytes } from "../lib/format";
import { TIMER_CHOICES, withSelfDestruct } from "../lib/selfDestruct";
import { sendFile } from "../matrix/media";
import { ClipIcon } from "./Icons";
import { useToast } from "./Toasts";

export function Composer({ client, room, initialDraft }: { client: MatrixClient; room: Room; initialDraft: string }) {
  const toast = useToast();
  const [text, setText] = useState(initialDraft);
  const [timer, setTimer] = useState(0);
  const [upload, setUpload] = useState<{ name: string; fraction: number } | undefined>();
  const fileInput = useRef<HTMLInputElement>(null);
  const typingSent = useRef(0);

  function typed(value: string): void {
    setText(value);
    const now = Date.now();
    if (value && now - typingSent.current > 3000) {
      typingSent.current = now;
      client.sendTyping(room.roomId, true, 5000).catch(() => undefined);
    }
  }

  async function send(e: FormEvent): Promise<void> {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText("");
    typingSent.current = 0;
    client.sendTyping(room.roomId, false, 0).catch(() => undefined);
    try {
      await client.sendMessage(room.roomId, withSelfDestruct({ msgtype: "m.text", body }, timer, Date.now()) as never);
    } catch (err) {
      setText(body);
      toast(errorSentence(err, "send the message"), "error");
    }
  }

  async function attach(file: File): Promise<void> {
    setUpload({ name: file.name, fraction: 0 });
    try {
      await sendFile(client, room.roomId, file, (fraction) => setUpload({ name: file.name, fraction }), withSelfDestruct({}, timer, Date.now()));
      toast(`${file.name} (${formatBytes(file.size)}) sent${room.hasEncryptionStateEvent() ? ", encrypted" : ""}.`, "success");
    } catch (err) {
      toast(errorSentence(err, `send ${file.name}`), "error");
    } finally {
      setUpload(undefined);
      if (fileInput.current) fileInput.current.value = "";
    }
  }

  return (
    <form onSubmit={(e) => void send(e)} className="border-t border-slate-200 p-2 dark:border-slate-700">
      {upload && (
        <div className="mb-2 px-1 text-xs">
          <label className="flex items-center gap-2">
            <span className="truncate">Uploading {upload.name}</span>
            <progress className="h-2 flex-1" max={1} value={upload.fraction} aria-label={`Uploading ${upload.name}`} />
          </label>
        </div>
      )}
      <div className="flex items-end gap-2">
        <input ref={fileInput} type="file" className="hidden" tabIndex={-1} aria-hidden="true" data-testid="file-input" onChange={(e) => e.target.files?.[0] && void attach(e.target.files[0])} />
        <button type="button" aria-label="Attach file" title="Attach file" disabled={!!upload} onClick={() => fileInput.current?.click()} className="rounded-lg px-2 py-2 text-xl hover:bg-slate-100 disabled:opacity-50 dark:hover:bg-slate-800">
          <ClipIcon />
        </button>
        <label className="sr-only" htmlFor="self-destruct">Self-destruct timer</label>
        <select id="self-destruct" value={timer} onChange={(e) => setTimer(Number(e.target.value))} className="w-24 rounded-lg border border-slate-300 bg-white px-1 py-2 text-sm md:w-auto dark:border-slate-600 dark:bg-slate-800" title="Self-destruct timer">
          {TIMER_CHOICES.map((c) => (
            <option key={c.ms} value={c.ms}>{c.ms ? `Timer: ${c.label}` : "No timer"}</option>
          ))}
        </select>
        <textarea
          aria-label="Message"
          rows={1}
          value={text}
          onChange={(e) => typed(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
          placeholder="Message"
          className="min-w-0 flex-1 resize-none rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-600 dark:bg-slate-800"
        />
        <button type="submit" className="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
          Send
        </button>
      </div>
    </form>
  );
}
