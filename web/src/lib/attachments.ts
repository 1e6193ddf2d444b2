/**
 * Encrypted attachments as the Matrix spec defines them (v2): AES-256-CTR with a random key and
 * a 16-byte counter block whose low 64 bits start at zero, the key as a JWK, and the SHA-256 of
 * the ciphertext checked before anything is decrypted. Uses WebCrypto only.
 */

export interface EncryptedFileInfo {
  v: "v2";
  key: { kty: "oct"; key_ops: string[]; alg: "A256CTR"; k: string; ext: true };
  iv: string;
  hashes: { sha256: string };
}

export interface EncryptedFile extends EncryptedFileInfo {
  url: string;
}

/** Unpadded standard base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "");
}

/** Bytes of standard or URL-safe base64, padded or not. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const normal = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = normal + "=".repeat((4 - (normal.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

async function sha256(data: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

/** Encrypt `plaintext`; the returned info lacks only the `url` of the uploaded ciphertext. */
export async function encryptAttachment(
  plaintext: ArrayBuffer,
): Promise<{ ciphertext: ArrayBuffer; info: EncryptedFileInfo }> {
  const iv = new Uint8Array(16);
  crypto.getRandomValues(iv.subarray(0, 8));
  const key = await crypto.subtle.generateKey({ name: "AES-CTR", length: 256 }, true, ["encrypt", "decrypt"]);
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plaintext);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return {
    ciphertext,
    info: {
      v: "v2",
      key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: jwk.k ?? "", ext: true },
      iv: toBase64(iv),
      hashes: { sha256: await sha256(ciphertext) },
    },
  };
}

/** Thrown when a downloaded file does not match its event: it was altered or is corrupt. */
export class AttachmentIntegrityError extends Error {
  constructor() {
    super("The file does not match its message: it was altered or damaged.");
    this.name = "AttachmentIntegrityError";
  }
}

/** Check the hash of `ciphertext` against `info`, then decrypt it. */
export async function decryptAttachment(ciphertext: ArrayBuffer, info: EncryptedFileInfo): Promise<ArrayBuffer> {
  if (info.v !== "v2" || info.key.alg !== "A256CTR") throw new AttachmentIntegrityError();
  if ((await sha256(ciphertext)) !== info.hashes.sha256.replace(/=+$/, "")) throw new AttachmentIntegrityError();
  const key = await crypto.subtle.importKey("jwk", info.key, { name: "AES-CTR" }, false, ["decrypt"]);
  const counter = fromBase64(info.iv);
  if (counter.length !== 16) throw new AttachmentIntegrityError();
  return crypto.subtle.decrypt({ name: "AES-CTR", counter, length: 64 }, key, ciphertext);
}

/** The msgtype for a file of MIME type `type`. */
export function msgtypeFor(type: string): "m.image" | "m.video" | "m.audio" | "m.file" {
  if (type.startsWith("image/")) return "m.image";
  if (type.startsWith("video/")) return "m.video";
  if (type.startsWith("audio/")) return "m.audio";
  return "m.file";
}

/** Server name and media ID of an `mxc://` URI, or undefined if it is not one. */
export function parseMxc(uri: string): { serverName: string; mediaId: string } | undefined {
  const match = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(uri);
  if (!match) return undefined;
  return { serverName: match[1]!, mediaId: match[2]! };
}
