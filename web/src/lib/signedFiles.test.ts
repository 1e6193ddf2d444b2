import { describe, expect, it } from "vitest";
import { AttachmentIntegrityError, toBase64 } from "./attachments";
import {
  buildSignedFile,
  canonicalJson,
  checkSignedFile,
  type DeviceKey,
  FileSignatureInvalid,
  type SignedFile,
  signedFileClaims,
  verifyEd25519,
} from "./signedFiles";

// Made by the Python SDK (sdk.crypto.protocol.signed_files.build_signed_file with a vodozemac
// account): the browser must accept what Python signs, byte for byte.
const PYTHON = {
  ed25519: "fXfc6W8lzpZdnjLi8vqLvFcQLuiP8t6Pc5ZhrZC5bCE",
  plaintext: "a file signed by the Python SDK\n",
  claims: {
    signed: {
      sha256: "qxs/qYLOlW8tATTsexlmYDiLXRDHa9itxijDvSt873A",
      size: 32,
      mimetype: "text/plain",
      room_id: "!room:example.org",
      sender: "@py:example.org",
    },
    device_id: "PYDEVICE",
    signatures: {
      "@py:example.org": {
        "ed25519:PYDEVICE": "SFq+PCHyMFeRqas9ocuwHCAu+jInae3+GHumzjsftQJ9PKUKfs+XCgJR4sL0WVOeVjQu34AXx9Ld8fyHvoz3BA",
      },
    },
  },
};
const PY_CTX = { roomId: "!room:example.org", sender: "@py:example.org", mimetype: "text/plain" };

const bytes = (text: string): ArrayBuffer => new TextEncoder().encode(text).buffer as ArrayBuffer;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const lookupOf = (devices: Record<string, DeviceKey>) => async (id: string) => devices[id];

async function newDevice(): Promise<{ publicKey: string; sign: (m: string) => Promise<string> }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    publicKey: toBase64(raw),
    sign: async (m) => toBase64(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, new TextEncoder().encode(m)))),
  };
}

describe("canonicalJson", () => {
  it("sorts keys at every level and leaves no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, "x"], c: null }, "é": true })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1,"é":true}');
  });
  it("refuses floats and integers out of range", () => {
    expect(() => canonicalJson({ a: 1.5 })).toThrow(FileSignatureInvalid);
    expect(() => canonicalJson({ a: 2 ** 53 })).toThrow(FileSignatureInvalid);
  });
  it("encodes the Python SDK's signed object as Python does", () => {
    expect(canonicalJson(PYTHON.claims.signed)).toBe(
      '{"mimetype":"text/plain","room_id":"!room:example.org","sender":"@py:example.org","sha256":"qxs/qYLOlW8tATTsexlmYDiLXRDHa9itxijDvSt873A","size":32}',
    );
  });
});

describe("checkSignedFile", () => {
  const python = lookupOf({ PYDEVICE: { ed25519: PYTHON.ed25519, verified: false } });

  it("accepts a file signed by the Python SDK, from an unverified device", async () => {
    expect(await checkSignedFile(clone(PYTHON.claims), bytes(PYTHON.plaintext), PY_CTX, python)).toEqual({ trust: "unverified_device", deviceId: "PYDEVICE" });
  });

  it("says verified when the signing device is verified", async () => {
    const verified = lookupOf({ PYDEVICE: { ed25519: PYTHON.ed25519, verified: true } });
    expect((await checkSignedFile(clone(PYTHON.claims), bytes(PYTHON.plaintext), PY_CTX, verified)).trust).toBe("verified");
  });

  it("round-trips a file signed here", async () => {
    const device = await newDevice();
    const data = bytes("hello from the browser");
    const claims = await buildSignedFile(data, { mimetype: "text/plain", roomId: "!r:x", sender: "@me:x", deviceId: "WEB" }, device.sign);
    const result = await checkSignedFile(claims as unknown as Record<string, unknown>, data, { roomId: "!r:x", sender: "@me:x", mimetype: "text/plain" }, lookupOf({ WEB: { ed25519: device.publicKey, verified: true } }));
    expect(result).toEqual({ trust: "verified", deviceId: "WEB" });
  });

  it("rejects altered bytes as an integrity failure", async () => {
    await expect(checkSignedFile(clone(PYTHON.claims), bytes(PYTHON.plaintext.replace("Python", "python")), PY_CTX, python)).rejects.toBeInstanceOf(AttachmentIntegrityError);
    await expect(checkSignedFile(clone(PYTHON.claims), bytes(`${PYTHON.plaintext}!`), PY_CTX, python)).rejects.toBeInstanceOf(AttachmentIntegrityError);
  });

  const forged: [string, (c: SignedFile) => void, typeof PY_CTX?][] = [
    ["another room", () => undefined, { ...PY_CTX, roomId: "!other:example.org" }],
    ["another sender", () => undefined, { ...PY_CTX, sender: "@eve:example.org" }],
    ["another MIME type in the event", () => undefined, { ...PY_CTX, mimetype: "text/html" }],
    ["an edited signed hash", (c) => void (c.signed.sha256 = "A".repeat(43))],
    ["an edited signed size", (c) => void (c.signed.size = 33)],
    ["a signature by an unknown device", (c) => void (c.device_id = "OTHER")],
    ["no signature", (c) => void (c.signatures = {})],
    ["a damaged signature", (c) => void (c.signatures["@py:example.org"]!["ed25519:PYDEVICE"] = `B${c.signatures["@py:example.org"]!["ed25519:PYDEVICE"]!.slice(1)}`)],
    ["a malformed signed object", (c) => void delete (c.signed as Partial<SignedFile["signed"]>).size],
  ];
  for (const [name, edit, ctx] of forged) {
    it(`rejects ${name}`, async () => {
      const claims = clone(PYTHON.claims) as SignedFile;
      edit(claims);
      await expect(checkSignedFile(claims as unknown as Record<string, unknown>, bytes(PYTHON.plaintext), ctx ?? PY_CTX, python)).rejects.toBeInstanceOf(FileSignatureInvalid);
    });
  }

  it("rejects a valid signature from a different key for the same device", async () => {
    const other = await newDevice();
    const impostor = lookupOf({ PYDEVICE: { ed25519: other.publicKey, verified: true } });
    await expect(checkSignedFile(clone(PYTHON.claims), bytes(PYTHON.plaintext), PY_CTX, impostor)).rejects.toBeInstanceOf(FileSignatureInvalid);
  });
});

describe("helpers", () => {
  it("finds claims only when they are an object", () => {
    expect(signedFileClaims({ "io.tessera.signed_file": "x" })).toBeUndefined();
    expect(signedFileClaims({ "io.tessera.signed_file": { a: 1 } })).toEqual({ a: 1 });
  });
  it("treats malformed keys and signatures as invalid, not errors", async () => {
    expect(await verifyEd25519("not base64!", "m", "x")).toBe(false);
    expect(await verifyEd25519(PYTHON.ed25519, "m", "AAAA")).toBe(false);
  });
});
