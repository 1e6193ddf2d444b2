/**
 * Sending and fetching files: encrypted in E2EE rooms, with upload progress, and signed by this
 * device (`io.tessera.signed_file`); a fetched file is hash-checked, decrypted and checked
 * against its signature before any of it is shown.
 */

import type { MatrixClient } from "matrix-js-sdk";
import {
  AttachmentIntegrityError,
  decryptAttachment,
  encryptAttachment,
  type EncryptedFile,
  msgtypeFor,
  parseMxc,
} from "../lib/attachments";
import { checkSignedFile, FileSignatureInvalid, type FileTrust, SIGNED_FILE_KEY, signedFileClaims } from "../lib/signedFiles";
import { authedGet, mediaPath } from "./http";
import { deviceKeys, signFile } from "./signedFiles";
import { imageThumbnail, type Thumbnail, videoThumbnail } from "./thumbnails";

/** Files up to this size are downloaded and checked as soon as they are shown; larger ones when
 * the person asks (their thumbnail, if any, is shown meanwhile). */
export const AUTO_LOAD_BYTES = 10 * 1024 * 1024;

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
  const mimetype = file.type || "application/octet-stream";
  const info: Record<string, unknown> = { size: file.size, mimetype };
  let thumb: Thumbnail | undefined;
  if (file.type.startsWith("image/")) {
    Object.assign(info, await imageSize(file));
    thumb = await imageThumbnail(file);
  } else if (file.type.startsWith("video/")) {
    const video = await videoThumbnail(file);
    if (video) Object.assign(info, { w: video.w, h: video.h, duration: video.duration });
    thumb = video?.thumb;
  }
  if (thumb) Object.assign(info, await uploadThumbnail(client, thumb, encrypted));
  const content: Record<string, unknown> = {
    msgtype: msgtypeFor(file.type),
    body: file.name,
    filename: file.name,
    info,
    ...extra,
  };
  if (sealed) content.file = { ...sealed.info, url: uploaded.content_uri };
  else content.url = uploaded.content_uri;
  const signed = await signFile(client, roomId, plain, mimetype);
  if (signed) content[SIGNED_FILE_KEY] = signed;
  await client.sendMessage(roomId, content as never);
}

/** Upload a thumbnail (encrypted like its file) and return the `info` fields naming it. */
async function uploadThumbnail(client: MatrixClient, thumb: Thumbnail, encrypted: boolean): Promise<Record<string, unknown>> {
  const sealed = encrypted ? await encryptAttachment(await thumb.blob.arrayBuffer()) : undefined;
  const uploaded = await client.uploadContent(sealed ? new Blob([sealed.ciphertext]) : thumb.blob, {
    type: sealed ? "application/octet-stream" : thumb.info.mimetype,
    includeFilename: false,
  });
  return sealed
    ? { thumbnail_file: { ...sealed.info, url: uploaded.content_uri }, thumbnail_info: thumb.info }
    : { thumbnail_url: uploaded.content_uri, thumbnail_info: thumb.info };
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

/** The response for an `mxc://` URI (authenticated media download). */
async function download(client: MatrixClient, uri: unknown): Promise<Response> {
  const mxc = typeof uri === "string" ? parseMxc(uri) : undefined;
  if (!mxc) throw new Error("This message has no file.");
  const resp = await authedGet(client, mediaPath("download", mxc));
  if (!resp.ok) throw new Error("The file could not be downloaded.");
  return resp;
}

/** A message's thumbnail (decrypted and hash-checked when encrypted), or undefined if it has
 * none or it does not check out. Not covered by the file's signature: shown only until the file
 * itself is loaded and checked. */
export async function loadThumbnail(client: MatrixClient, content: Record<string, unknown>): Promise<Blob | undefined> {
  const info = content.info as { thumbnail_file?: EncryptedFile; thumbnail_url?: unknown; thumbnail_info?: { mimetype?: unknown } } | undefined;
  if (!info || (!info.thumbnail_file && typeof info.thumbnail_url !== "string")) return undefined;
  const type = typeof info.thumbnail_info?.mimetype === "string" ? info.thumbnail_info.mimetype : "image/jpeg";
  try {
    const resp = await download(client, info.thumbnail_file?.url ?? info.thumbnail_url);
    const data = info.thumbnail_file ? await decryptAttachment(await resp.arrayBuffer(), info.thumbnail_file) : await resp.arrayBuffer();
    return new Blob([data], { type });
  } catch {
    return undefined;
  }
}

/** A message's file after every check: its bytes, or why it cannot be trusted. */
export type LoadedFile =
  | { trust: Exclude<FileTrust, "invalid">; blob: Blob; deviceId?: string }
  | { trust: "invalid"; reason: string };

/** Where a file message was sent and by whom, for its signature. */
export interface FileMessage {
  content: Record<string, unknown>;
  roomId: string;
  sender: string;
}

/**
 * Download a message's file, check the ciphertext hash and decrypt it when encrypted, then check
 * its signature (if signed) against the sender's device key.
 *
 * @throws Error when the file cannot be downloaded (a sentence to show).
 */
export async function loadFile(client: MatrixClient, message: FileMessage): Promise<LoadedFile> {
  const { content } = message;
  const file = content.file as EncryptedFile | undefined;
  const resp = await download(client, file?.url ?? content.url);
  const info = content.info as { mimetype?: unknown } | undefined;
  const mimetype = typeof info?.mimetype === "string" ? info.mimetype : undefined;
  try {
    const data = file ? await decryptAttachment(await resp.arrayBuffer(), file) : await resp.arrayBuffer();
    const blob = new Blob([data], { type: mimetype ?? "application/octet-stream" });
    const claims = signedFileClaims(content);
    if (!claims) return { trust: "unsigned", blob };
    const check = await checkSignedFile(claims, data, { roomId: message.roomId, sender: message.sender, mimetype }, deviceKeys(client, message.sender));
    return { trust: check.trust, blob, deviceId: check.deviceId };
  } catch (err) {
    if (err instanceof AttachmentIntegrityError || err instanceof FileSignatureInvalid) return { trust: "invalid", reason: err.message };
    // WebCrypto refusing the key or counter: the event's encryption details were tampered with.
    if (err instanceof DOMException) return { trust: "invalid", reason: "The file's encryption details are damaged." };
    throw err;
  }
}
