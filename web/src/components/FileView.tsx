/**
 * A file in a message: downloaded, decrypted and checked against its signature in the browser,
 * with a badge saying how far it can be trusted; images, video and audio shown inline, images in a
 * lightbox, every trusted file downloadable. An invalid file is never shown or offered.
 */

import type { MatrixClient } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { formatBytes } from "../lib/format";
import { type FileTrust, trustLabel } from "../lib/signedFiles";
import { AUTO_LOAD_BYTES, type FileMessage, type LoadedFile, loadFile, loadThumbnail } from "../matrix/media";
import { deviceVerified } from "../matrix/signedFiles";
import { ShieldIcon } from "./Icons";
import { useBlobUrl } from "./useBlobUrl";

interface Props {
  client: MatrixClient;
  message: FileMessage;
  msgtype: "m.image" | "m.file" | "m.video" | "m.audio";
  tick: number;
}

const BADGE: Record<FileTrust, string> = {
  verified: "border-emerald-600 bg-emerald-50 text-emerald-900",
  unverified_device: "border-amber-600 bg-amber-50 text-amber-900",
  unsigned: "border-slate-500 bg-slate-50 text-slate-800",
  invalid: "border-rose-700 bg-rose-50 text-rose-900",
};

export function TrustBadge({ trust, detail }: { trust: FileTrust; detail?: string }) {
  const label = trustLabel(trust);
  const explain = detail ? `${label.explain} ${detail}` : label.explain;
  return (
    <span role="img" title={explain} aria-label={`${label.text}: ${explain}`} className={`inline-flex items-center gap-1 rounded-full border px-1.5 text-[0.7rem] font-medium ${BADGE[trust]}`}>
      <ShieldIcon /> {label.text}
    </span>
  );
}

/** The loaded file (once `wanted`), its object URL, and its trust re-read when verification
 * changes (`tick`). */
function useLoadedFile(client: MatrixClient, message: FileMessage, tick: number, wanted: boolean) {
  const [loaded, setLoaded] = useState<LoadedFile>();
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<string>();
  const [trust, setTrust] = useState<FileTrust>();

  useEffect(() => {
    if (!wanted) return;
    let made: string | undefined;
    let live = true;
    loadFile(client, message)
      .then((file) => {
        if (!live) return;
        setLoaded(file);
        setTrust(file.trust);
        if (file.trust !== "invalid") {
          made = URL.createObjectURL(file.blob);
          setUrl(made);
        }
      })
      .catch((err: unknown) => live && setError(err instanceof Error ? err.message : "The file could not be loaded."));
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
    // The content of an event never changes; fetch once per message.
  }, [client, message.content, wanted]);

  // A signature checked once stays valid; whether its device is verified can change (SAS).
  const deviceId = loaded && loaded.trust !== "invalid" ? loaded.deviceId : undefined;
  useEffect(() => {
    if (!deviceId) return;
    let live = true;
    deviceVerified(client, message.sender, deviceId).then(
      (verified) => live && setTrust(verified ? "verified" : "unverified_device"),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, message.sender, deviceId, tick]);

  return { loaded, url, error, trust };
}

export function FileView({ client, message, msgtype, tick }: Props) {
  const { content } = message;
  const size = (content.info as { size?: number } | undefined)?.size;
  const [wanted, setWanted] = useState((size ?? 0) <= AUTO_LOAD_BYTES);
  const { loaded, url, error, trust } = useLoadedFile(client, message, tick, wanted);
  const thumb = useBlobUrl(msgtype === "m.image" || msgtype === "m.video" ? () => loadThumbnail(client, content) : undefined, [client, content]);
  const [open, setOpen] = useState(false);
  const name = typeof content.body === "string" ? content.body : "file";
  const shown = url ?? thumb;

  if (error) return <p role="alert" className="italic">{name}: {error}</p>;
  if (loaded?.trust === "invalid") {
    return (
      <div className="space-y-1">
        <p role="alert" className="italic">{name}: {loaded.reason} It is not shown.</p>
        <TrustBadge trust="invalid" detail={loaded.reason} />
      </div>
    );
  }
  return (
    <div className="space-y-1">
      {shown && msgtype === "m.image" && (
        <button
          type="button"
          onClick={() => {
            setWanted(true);
            setOpen(true);
          }}
          aria-label={`Open image ${name}`}
          className="block"
        >
          <img src={shown} alt={url ? name : `${name} (preview)`} className="max-h-64 max-w-full rounded-lg" />
        </button>
      )}
      {msgtype === "m.video" && (url || thumb) && <video src={url} poster={thumb} controls={!!url} className="max-h-64 max-w-full rounded-lg" aria-label={name} />}
      {url && msgtype === "m.audio" && <audio src={url} controls aria-label={name} />}
      {!url && wanted && <p className="italic opacity-70">Loading {name}…</p>}
      {!wanted && (
        <button type="button" onClick={() => setWanted(true)} className="rounded border border-current px-2 py-0.5 text-xs">
          Load and check {name}
        </button>
      )}
      <p className="flex flex-wrap items-center gap-x-1 text-xs">
        {url ? (
          <a href={url} download={name} className="underline">
            Download {name}
          </a>
        ) : (
          <span>{name}</span>
        )}
        {size !== undefined && <span>· {formatBytes(size)}</span>}
        {content.file ? <span>· encrypted</span> : null}
        {trust && <TrustBadge trust={trust} />}
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
