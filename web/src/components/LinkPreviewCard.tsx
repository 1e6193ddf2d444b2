/**
 * A link's preview card (title, description, site, picture) under a message. In an encrypted
 * room nothing is asked of the server until the person presses "Show link preview", since the
 * server fetches the page and so learns the link.
 */

import type { MatrixClient } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import type { LinkPreview } from "../lib/preview";
import { linkPreview, PreviewsOff, previewImage } from "../matrix/preview";
import { useBlobUrl } from "./useBlobUrl";

export function LinkPreviewCard({ client, url, encrypted }: { client: MatrixClient; url: string; encrypted: boolean }) {
  const [asked, setAsked] = useState(!encrypted);
  const [preview, setPreview] = useState<LinkPreview>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    if (!asked) return;
    let live = true;
    linkPreview(client, url).then(
      (p) => live && setPreview(p),
      (err: unknown) => live && setProblem(err instanceof PreviewsOff && encrypted ? err.message : undefined),
    );
    return () => {
      live = false;
    };
  }, [client, url, asked, encrypted]);
  const mxc = preview?.image;
  const image = useBlobUrl(mxc ? () => previewImage(client, mxc) : undefined, [client, mxc]);

  if (!asked) {
    return (
      <button type="button" onClick={() => setAsked(true)} title="Your server fetches the page to make the preview, so it sees this link." className="mt-1 rounded border border-current px-2 py-0.5 text-xs opacity-80">
        Show link preview
      </button>
    );
  }
  if (problem) return <p className="mt-1 text-xs italic opacity-80">{problem}</p>;
  if (!preview) return null;
  return (
    <a
      href={url}
      target="_blank"
      rel="noopener noreferrer"
      aria-label={`Link preview: ${preview.title ?? url}`}
      className="mt-1 flex max-w-sm gap-2 overflow-hidden rounded-lg border border-slate-300 bg-white p-2 text-slate-900 no-underline dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100"
    >
      {image && <img src={image} alt="" className="h-16 w-16 shrink-0 rounded object-cover" />}
      <span className="min-w-0">
        {preview.siteName && <span className="block truncate text-[0.7rem] text-slate-600 dark:text-slate-400">{preview.siteName}</span>}
        {preview.title && <span className="block font-semibold line-clamp-2">{preview.title}</span>}
        {preview.description && <span className="block text-xs line-clamp-2">{preview.description}</span>}
      </span>
    </a>
  );
}
