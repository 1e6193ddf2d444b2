/** The composer: text, a self-destruct timer, attaching a file with an upload progress bar. */

import { type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { errorSentence, isNetworkError } from "../lib/errors";
import { formatBytes, localpart } from "../lib/format";
import type { Shared } from "../lib/share";
import { textContent } from "../lib/markdown";
import { editContent, replyContent } from "../lib/relations";
import { TIMER_CHOICES, withSelfDestruct } from "../lib/selfDestruct";
import { sendFile } from "../matrix/media";
import { ClipIcon } from "./Icons";
import { bodyText } from "./Message";
import { useToast } from "./Toasts";

interface Props {
  client: MatrixClient;
  room: Room;
  /** Text and files shared from another app: the text goes in the box, the files wait for Send. */
  shared: Shared | undefined;
  onTakeShared: () => void;
  /** The message being answered, or edited; `onCancel` clears both. */
  replyTo?: MatrixEvent;
  editing?: MatrixEvent;
  onCancel: () => void;
}

/** The content to send for `body`: an edit, a reply, or a new message with the timer. */
function contentFor(body: string, timer: number, replyTo?: MatrixEvent, editing?: MatrixEvent): Record<string, unknown> {
  if (editing) return editContent(body, editing.getId() ?? "");
  const base = replyTo ? replyContent(body, replyTo.getId() ?? "") : textContent(body);
  return withSelfDestruct(base, timer, Date.now());
}

export function Composer({ client, room, shared, onTakeShared, replyTo, editing, onCancel }: Props) {
  const toast = useToast();
  const [text, setText] = useState(shared?.text ?? "");
  const [pending, setPending] = useState<File[]>(shared?.files ?? []);
  useEffect(() => {
    if (shared) onTakeShared();
    // Taken once, when the room opens with something shared.
  }, []);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (editing) setText(bodyText(editing));
    if (editing || replyTo) box.current?.focus();
  }, [editing, replyTo]);
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
    const [wasReply, wasEdit] = [replyTo, editing];
    onCancel();
    try {
      await client.sendMessage(room.roomId, contentFor(body, timer, wasReply, wasEdit) as never);
      if (wasEdit) toast("Message edited.", "success");
    } catch (err) {
      if (wasEdit) {
        setText(body);
        toast(errorSentence(err, "edit the message"), "error");
      } else {
        // The message stays in the timeline marked "not sent", with Retry and Discard.
        const why = isNetworkError(err) ? "the server cannot be reached." : errorSentence(err, "send it");
        toast(`Your message was not sent: ${why} Press Retry on it to send it again.`, "error");
      }
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

  async function sendShared(): Promise<void> {
    const files = pending;
    setPending([]);
    for (const file of files) await attach(file);
  }

  return (
    <form onSubmit={(e) => void send(e)} className="border-t border-slate-200 p-2 dark:border-slate-700">
      {pending.length > 0 && (
        <div role="group" aria-label="Shared files" className="mb-2 flex flex-wrap items-center gap-2 px-1 text-xs">
          <span className="min-w-0 flex-1 truncate">Shared: {pending.map((f) => `${f.name} (${formatBytes(f.size)})`).join(", ")}</span>
          <button type="button" onClick={() => void sendShared()} className="rounded bg-indigo-600 px-2 py-1 text-white">Send shared {pending.length === 1 ? "file" : "files"}</button>
          <button type="button" onClick={() => setPending([])} className="rounded border border-slate-400 px-2 py-1">Discard</button>
        </div>
      )}
      {upload && (
        <div className="mb-2 px-1 text-xs">
          <label className="flex items-center gap-2">
            <span className="truncate">Uploading {upload.name}</span>
            <progress className="h-2 flex-1" max={1} value={upload.fraction} aria-label={`Uploading ${upload.name}`} />
          </label>
        </div>
      )}
      {(replyTo || editing) && (
        <div className="mb-1 flex items-center gap-2 px-1 text-xs text-slate-600 dark:text-slate-300">
          <span className="min-w-0 flex-1 truncate">
            {editing ? "Editing your message" : `Replying to ${replyTo?.sender?.name ?? localpart(replyTo?.getSender() ?? "")}: ${bodyText(replyTo!)}`}
          </span>
          <button type="button" onClick={() => { onCancel(); if (editing) setText(""); }} className="rounded px-2 py-0.5 hover:bg-slate-100 dark:hover:bg-slate-800">
            {editing ? "Cancel edit" : "Cancel reply"}
          </button>
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
          ref={box}
          aria-label="Message"
          rows={1}
          value={text}
          onChange={(e) => typed(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && (replyTo || editing)) {
              onCancel();
              if (editing) setText("");
            }
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
