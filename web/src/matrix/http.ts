/** Requests to the homeserver that matrix-js-sdk does not make itself (media bytes, previews,
 * endpoints it does not know), sent with this session's access token. */

import type { MatrixClient } from "matrix-js-sdk";

/** GET `path` (from `/_matrix/...`) on the homeserver, authenticated. */
export function authedGet(client: MatrixClient, path: string): Promise<Response> {
  return fetch(`${client.baseUrl}${path}`, { headers: { Authorization: `Bearer ${client.getAccessToken() ?? ""}` } });
}

/** The authenticated media path of a parsed `mxc://` URI: its file, or a server-made thumbnail. */
export function mediaPath(kind: "download" | "thumbnail", mxc: { serverName: string; mediaId: string }): string {
  return `/_matrix/client/v1/media/${kind}/${encodeURIComponent(mxc.serverName)}/${encodeURIComponent(mxc.mediaId)}`;
}
