/** Sending and fetching files: encrypted in E2EE rooms, with upload progress. */

import type { MatrixClient } from "matrix-js-sdk";
import {
  decryptAttachment,
  encryptAttachment,
  type EncryptedFile,
  msgtypeFor,
  parseMxc,
} from "../lib/attachments";

/** Upload `file` to `roomId` as a message; `onProgress` gets a fraction 0..1. */
export async function sendFile(
  client: MatrixClient,
  roomId: string,
  file: File,
  onProgress: (fraction: number) => void,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const encrypted = client.getRoom(roomId)?.hasEncryptionStateEvent() ?? false;
  const plain = await file.arrayBuffer();
  const sealed = encrypted ? await encryptAttachment(plain) : undefined;
  const body = sealed ? new Blob([sealed.ciphertext]) : file;
  const uploaded = await client.uploadContent(body, {
    name: sealed ? undefined : file.name,
    type: sealed ? "application/octet-stream" : file.type || "application/octet-stream",
    includeFilename: !sealed,
    progressHandler: ({ loaded, total }) => onProgress(total > 0 ? loaded / total : 0),
  });
  const info: Record<string, unknown> = { size: file.size, mimetype: file.type || "application/octet-stream" };
  if (file.type.startsWith("image/")) Object.assign(info, await imageSize(file));
  const content: Record<string, unknown> = {
    msgtype: msgtypeFor(file.type),
    body: file.name,
    filename: file.name,
    info,
    ...extra,
  };
  if (sealed) content.file = { ...sealed.info, url: uploaded.content_uri };
  else content.url = uploaded.content_uri;
  await client.sendMessage(roomId, content as never);
}

async function imageSize(file: File): Promise<{ w?: number; h?: number }> {
  try {
    const bitmap = await createImageBitmap(file);
    const size = { w: bitmap.width, h: bitmap.height };
    bitmap.close();
    return size;
  } catch {
    return {};
  }
}

/** The bytes of a message's file as a blob (decrypted and hash-checked when encrypted). */
export async function fetchFile(client: MatrixClient, content: Record<string, unknown>): Promise<Blob> {
  const file = content.file as EncryptedFile | undefined;
  const url = file?.url ?? (typeof content.url === "string" ? content.url : "");
  const mxc = parseMxc(url);
  if (!mxc) throw new Error("This message has no file.");
  const resp = await fetch(
    `${client.baseUrl}/_matrix/client/v1/media/download/${encodeURIComponent(mxc.serverName)}/${encodeURIComponent(mxc.mediaId)}`,
    { headers: { Authorization: `Bearer ${client.getAccessToken() ?? ""}` } },
  );
  if (!resp.ok) throw new Error("The file could not be downloaded.");
  const data = await resp.arrayBuffer();
  const info = content.info as { mimetype?: string } | undefined;
  const type = info?.mimetype ?? "application/octet-stream";
  if (!file) return new Blob([data], { type });
  return new Blob([await decryptAttachment(data, file)], { type });
}
