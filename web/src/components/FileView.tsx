/** A file in a message: decrypted in the browser, shown inline for images and video, downloadable. */

import type { MatrixClient } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { AttachmentIntegrityError } from "../lib/attachments";
import { formatBytes } from "../lib/format";
import { fetchFile } from "../matrix/media";

interface Props {
  client: MatrixClient;
  content: Record<string, unknown>;
  msgtype: "m.image" | "m.file" | "m.video" | "m.audio";
}

export function FileView({ client, content, msgtype }: Props) {
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState(false);
  const name = typeof content.body === "string" ? content.body : "file";
  const size = (content.info as { size?: number } | undefined)?.size;
  const inline = msgtype === "m.image" || msgtype === "m.video" || msgtype === "m.audio";

  useEffect(() => {
    let made: string | undefined;
    let live = true;
    fetchFile(client, content)
      .then((blob) => {
        made = URL.createObjectURL(blob);
        if (live) setUrl(made);
      })
      .catch((err: unknown) =>
        live && setError(err instanceof AttachmentIntegrityError ? "Invalid: this file was altered or damaged." : "The file could not be loaded."),
      );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
    // The content of an event never changes; fetch once per message.
  }, [client, content]);

  if (error) return <p role="alert" className="italic">{name}: {error}</p>;
  return (
    <div className="space-y-1">
      {inline && url && msgtype === "m.image" && (
        <button type="button" onClick={() => setOpen(true)} aria-label={`Open image ${name}`} className="block">
          <img src={url} alt={name} className="max-h-64 max-w-full rounded-lg" />
        </button>
      )}
      {inline && url && msgtype === "m.video" && <video src={url} controls className="max-h-64 max-w-full rounded-lg" aria-label={name} />}
      {inline && url && msgtype === "m.audio" && <audio src={url} controls aria-label={name} />}
      {!url && <p className="italic opacity-70">Loading {name}…</p>}
      <p className="text-xs">
        {url ? (
          <a href={url} download={name} className="underline">
            Download {name}
          </a>
        ) : (
          name
        )}
        {size !== undefined && ` · ${formatBytes(size)}`}
        {content.file ? " · encrypted" : ""}
      </p>
      {open && url && (
        <div role="dialog" aria-label={name} className="fixed inset-0 z-40 flex items-center justify-center bg-black/80 p-4" onClick={() => setOpen(false)}>
          <img src={url} alt={name} className="max-h-full max-w-full" />
          <button type="button" className="absolute top-3 right-3 rounded bg-white/20 px-3 py-1 text-white" onClick={() => setOpen(false)} autoFocus>
            Close
          </button>
        </div>
      )}
    </div>
  );
}
