/**
 * Signed file events, as the Python SDK writes and checks them (`io.tessera.signed_file`): the
 * sending device signs, with its Ed25519 device key, the canonical JSON of
 *
 *     {"sha256": <unpadded base64 SHA-256 of the plaintext>, "size": <bytes>,
 *      "mimetype": ..., "room_id": ..., "sender": ...}
 *
 * and the event content carries `{"signed": {...}, "device_id": ..., "signatures":
 * {sender: {"ed25519:<device_id>": sig}}}`. A receiver checks, in this order: the signed MIME type
 * equals the event's, room and sender equal the event's, the signing device is one of the
 * sender's with that Ed25519 key, the signature verifies, and only then the downloaded (and
 * decrypted) bytes against the signed hash and size. Any failure throws; only a fully checked
 * file comes back, naming the device that signed it. WebCrypto only (Ed25519 and SHA-256).
 */

import { AttachmentIntegrityError, fromBase64, toBase64 } from "./attachments";

export const SIGNED_FILE_KEY = "io.tessera.signed_file";

/** What a file's badge says: checked and from a verified device, checked and from a device its
 * owner has not verified, not signed at all, or altered / forged. */
export type FileTrust = "verified" | "unverified_device" | "unsigned" | "invalid";

/** The signature or the fields it binds do not hold: the file cannot be trusted. */
export class FileSignatureInvalid extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "FileSignatureInvalid";
  }
}

export interface SignedFile {
  signed: { sha256: string; size: number; mimetype: string; room_id: string; sender: string };
  device_id: string;
  signatures: Record<string, Record<string, string>>;
}

/** What the event says about the file, to check the signed fields against. */
export interface FileContext {
  roomId: string;
  sender: string;
  mimetype: string | undefined;
}

/** A sender's device as the key lookup knows it. */
export interface DeviceKey {
  ed25519: string;
  verified: boolean;
}

const MAX_SAFE = 2 ** 53 - 1;

/** Canonical JSON (the Matrix appendix): sorted keys, no whitespace, integers only. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isInteger(value) || Math.abs(value) > MAX_SAFE) throw new FileSignatureInvalid("a number in signed JSON is not a canonical integer");
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new FileSignatureInvalid("signed JSON holds a value JSON cannot carry");
}

async function sha256(data: ArrayBuffer): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/**
 * The `io.tessera.signed_file` value for a file about to be sent.
 *
 * @param sign - signs a string's UTF-8 bytes with this device's Ed25519 key (unpadded base64).
 */
export async function buildSignedFile(
  plaintext: ArrayBuffer,
  fields: { mimetype: string; roomId: string; sender: string; deviceId: string },
  sign: (message: string) => Promise<string>,
): Promise<SignedFile> {
  const signed = {
    sha256: toBase64(await sha256(plaintext)),
    size: plaintext.byteLength,
    mimetype: fields.mimetype,
    room_id: fields.roomId,
    sender: fields.sender,
  };
  const signature = await sign(canonicalJson(signed));
  return { signed, device_id: fields.deviceId, signatures: { [fields.sender]: { [`ed25519:${fields.deviceId}`]: signature } } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The signed-file claims of an event's content, or undefined when it carries none. */
export function signedFileClaims(content: Record<string, unknown>): Record<string, unknown> | undefined {
  const value = content[SIGNED_FILE_KEY];
  return isRecord(value) ? value : undefined;
}

function strictBase64(text: string, length: number): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) return undefined;
  try {
    const bytes = fromBase64(text);
    return bytes.length === length ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `signature` (unpadded base64) is `publicKey`'s Ed25519 signature of `message`. */
export async function verifyEd25519(publicKey: string, message: string, signature: string): Promise<boolean> {
  const key = strictBase64(publicKey, 32);
  const sig = strictBase64(signature, 64);
  if (!key || !sig) return false;
  try {
    const imported = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, imported, sig, new TextEncoder().encode(message));
  } catch {
    return false;
  }
}

function checkFields(claims: Record<string, unknown>, ctx: FileContext): Record<string, unknown> {
  const signed = claims.signed;
  if (!isRecord(signed) || ["sha256", "size", "mimetype", "room_id", "sender"].some((k) => !(k in signed))) {
    throw new FileSignatureInvalid("The file's signature is malformed.");
  }
  if (signed.mimetype !== ctx.mimetype) throw new FileSignatureInvalid("The file's type differs from the type its sender signed.");
  if (signed.room_id !== ctx.roomId) throw new FileSignatureInvalid("The file was signed for a different room.");
  if (signed.sender !== ctx.sender) throw new FileSignatureInvalid("The file was signed by someone other than its sender.");
  return signed;
}

async function checkBytes(signed: Record<string, unknown>, plaintext: ArrayBuffer): Promise<void> {
  const expected = typeof signed.sha256 === "string" ? strictBase64(signed.sha256, 32) : undefined;
  if (!expected) throw new FileSignatureInvalid("The file's signed hash is malformed.");
  const actual = await sha256(plaintext);
  if (actual.some((b, i) => b !== expected[i]) || signed.size !== plaintext.byteLength) throw new AttachmentIntegrityError();
}

/**
 * Check a downloaded (and decrypted) file against its signed claims.
 *
 * @param lookup - the sender's device by ID (its Ed25519 key and whether it is verified), or
 *   undefined when the sender has no such device.
 * @returns the signing device and its trust ("verified" or "unverified_device").
 * @throws FileSignatureInvalid for malformed claims, other room / sender / type, an unknown
 *   device or a signature that does not verify; AttachmentIntegrityError when the bytes differ.
 */
export async function checkSignedFile(
  claims: Record<string, unknown>,
  plaintext: ArrayBuffer,
  ctx: FileContext,
  lookup: (deviceId: string) => Promise<DeviceKey | undefined>,
): Promise<{ trust: "verified" | "unverified_device"; deviceId: string }> {
  const signed = checkFields(claims, ctx);
  const deviceId = claims.device_id;
  if (typeof deviceId !== "string") throw new FileSignatureInvalid("The file's signature names no device.");
  const bySender = isRecord(claims.signatures) ? claims.signatures[ctx.sender] : undefined;
  const signature = isRecord(bySender) ? bySender[`ed25519:${deviceId}`] : undefined;
  if (typeof signature !== "string") throw new FileSignatureInvalid("The file carries no signature from its device.");
  const device = await lookup(deviceId);
  if (!device) throw new FileSignatureInvalid("The device that signed the file is not one of the sender's devices.");
  if (!(await verifyEd25519(device.ed25519, canonicalJson(signed), signature))) {
    throw new FileSignatureInvalid("The file's signature does not match its sender's device key.");
  }
  await checkBytes(signed, plaintext);
  return { trust: device.verified ? "verified" : "unverified_device", deviceId };
}

/** The badge's words for a trust level. */
export function trustLabel(trust: FileTrust): { text: string; explain: string } {
  switch (trust) {
    case "verified":
      return { text: "Verified", explain: "Signed by a verified device of its sender; the file matches the signature." };
    case "unverified_device":
      return { text: "Unverified device", explain: "Signed by a device its sender has not verified; the file matches the signature." };
    case "unsigned":
      return { text: "Not signed", explain: "The sender's app did not sign this file, so who made it cannot be checked." };
    default:
      return { text: "Invalid", explain: "This file was altered or its signature is forged: do not trust it." };
  }
}
