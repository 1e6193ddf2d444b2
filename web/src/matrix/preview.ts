/** Link previews from the server (`GET /media/preview_url`), cached per client and URL, and the
 * preview image fetched with authentication (`/media/thumbnail`). */

import type { MatrixClient } from "matrix-js-sdk";
import { parseMxc } from "../lib/attachments";
import { type LinkPreview, parsePreview } from "../lib/preview";
import { authedGet, mediaPath } from "./http";

/** Thrown when the server will not preview a link (previews off or not offered, or a page it
 * may not fetch). */
export class PreviewsOff extends Error {
  constructor() {
    super("Your server did not preview this link.");
  }
}

const cache = new WeakMap<MatrixClient, Map<string, Promise<LinkPreview | undefined>>>();

async function fetchPreview(client: MatrixClient, url: string): Promise<LinkPreview | undefined> {
  const resp = await authedGet(client, `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`);
  if (resp.status === 404 || resp.status === 403 || resp.status === 405) {
    const body = (await resp.json().catch(() => ({}))) as { errcode?: string };
    if (resp.status !== 404 || body.errcode === "M_UNRECOGNIZED") throw new PreviewsOff();
    return undefined; // the page itself was not found
  }
  if (!resp.ok) return undefined;
  return parsePreview(url, await resp.json());
}

/** The preview of `url` (undefined: nothing to show); one request per URL per session. */
export function linkPreview(client: MatrixClient, url: string): Promise<LinkPreview | undefined> {
  let byUrl = cache.get(client);
  if (!byUrl) cache.set(client, (byUrl = new Map()));
  let found = byUrl.get(url);
  if (!found) {
    found = fetchPreview(client, url);
    byUrl.set(url, found);
  }
  return found;
}

/** A small version of an `mxc://` image, as a blob. */
export async function previewImage(client: MatrixClient, mxc: string): Promise<Blob | undefined> {
  const parts = parseMxc(mxc);
  if (!parts) return undefined;
  const resp = await authedGet(client, `${mediaPath("thumbnail", parts)}?width=320&height=240&method=scale`);
  return resp.ok ? resp.blob() : undefined;
}
