// End to end: signed file events. Files sent from the browser carry a signature by the sending
// device (io.tessera.signed_file); the receiving browser decrypts, hashes and checks it and shows a
// badge. A file altered on its way from the server (a hostile server or proxy, simulated by
// rewriting the download in the receiver's browser) shows "Invalid" and is not displayed: in an
// encrypted DM and in an unencrypted room, where the signature is the only thing that catches it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiLogin, attach, bubble, fileBadge, person, register, setUp, shot, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

const text = (s) => Buffer.from(s.repeat(40));

/** From now on every file `p` downloads arrives with its last byte flipped. */
async function tamperDownloads(p) {
  let altered = 0;
  await p.context.route("**/_matrix/client/v1/media/download/**", async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    body[body.length - 1] ^= 0x01;
    altered += 1;
    await route.fulfill({ response, body });
  });
  return () => altered;
}

test("signed files show verified or unverified device, and tampered files show invalid", async () => {
  const ivy = await person(env.browser, "ivy");
  const jon = await person(env.browser, "jon", undefined, "jon", { serviceWorkers: "block" });
  try {
    await register(ivy, env.server.url);
    await register(jon, env.server.url);
    await startDm(ivy, jon);

    // A file signed by Ivy's device: Jon has not verified her, so "Unverified device"; Ivy's own
    // device is cross-signed by her, so she sees "Verified".
    await attach(ivy, "plan.txt", "text/plain", text("the plan\n"));
    await fileBadge(jon, "plan.txt", "Unverified device").waitFor(WAIT);
    await fileBadge(ivy, "plan.txt", "Verified").waitFor(WAIT);
    await bubble(jon, "plan.txt").getByRole("link", { name: "Download plan.txt" }).waitFor(WAIT);
    await shot(jon, "files-01-unverified-device");

    // A file above the automatic download size waits for "Load and check", then checks out.
    await attach(ivy, "big.bin", "application/octet-stream", Buffer.alloc(11 * 1024 * 1024, 7));
    const load = bubble(jon, "big.bin").getByRole("button", { name: "Load and check big.bin" });
    await load.waitFor(WAIT);
    await load.click();
    await fileBadge(jon, "big.bin", "Unverified device").waitFor(WAIT);

    // The server (or anyone on the way) alters the encrypted file: the ciphertext hash fails.
    const altered = await tamperDownloads(jon);
    await attach(ivy, "altered.txt", "text/plain", text("altered in transit\n"));
    await fileBadge(jon, "altered.txt", "Invalid").waitFor(WAIT);
    assert.equal(await bubble(jon, "altered.txt").getByRole("link").count(), 0, "an invalid file is offered for download");
    await fileBadge(ivy, "altered.txt", "Verified").waitFor(WAIT);
    await shot(jon, "files-02-invalid-encrypted");

    // An unencrypted room: nothing but the signature protects the file's bytes.
    const api = await apiLogin(env.server.url, ivy);
    const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Plain room", preset: "private_chat", invite: ["@jon:localhost"] });
    assert.ok(roomId, "the unencrypted room was not created");
    const accept = jon.page.getByRole("button", { name: "Accept invitation to Plain room" });
    await accept.waitFor(WAIT);
    await accept.click();
    for (const p of [ivy, jon]) {
      await p.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /Plain room/ }).click();
      await p.page.getByRole("heading", { name: "Plain room", level: 2 }).waitFor(WAIT);
    }
    const seen = altered();
    await attach(ivy, "photo.png", "image/png", await samplePng(ivy.page));
    await fileBadge(ivy, "photo.png", "Verified").waitFor(WAIT);
    await ivy.page.getByRole("log", { name: "Messages" }).getByRole("img", { name: "photo.png" }).waitFor(WAIT);
    await fileBadge(jon, "photo.png", "Invalid").waitFor(WAIT);
    assert.ok(altered() > seen, "the download was not altered");
    assert.equal(await jon.page.getByRole("log", { name: "Messages" }).getByRole("img", { name: "photo.png" }).count(), 0, "an invalid image is shown");
    await shot(jon, "files-03-invalid-plain-room");

    // A large picture goes with a thumbnail that fits 320x240.
    await attach(ivy, "wide.png", "image/png", await samplePng(ivy.page, 1000, 750));
    await fileBadge(ivy, "wide.png", "Verified").waitFor(WAIT);
    const { chunk } = await api("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=5`);
    const info = chunk.find((e) => e.content.body === "wide.png").content.info;
    assert.deepEqual([info.w, info.h, info.thumbnail_info.w, info.thumbnail_info.h], [1000, 750, 320, 240]);
    const [server, media] = info.thumbnail_url.slice("mxc://".length).split("/");
    const thumb = Buffer.from(await (await fetch(`${env.server.url}/_matrix/client/v1/media/download/${server}/${media}`, { headers: { Authorization: `Bearer ${api.token}` } })).arrayBuffer());
    assert.deepEqual([thumb.readUInt32BE(16), thumb.readUInt32BE(20)], [320, 240], "the thumbnail is not a 320x240 PNG");

    // Without the tampering, the same file checks out for Jon.
    await jon.context.unroute("**/_matrix/client/v1/media/download/**");
    await jon.page.reload();
    await jon.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /Plain room/ }).click();
    await fileBadge(jon, "photo.png", "Unverified device").waitFor(WAIT);
    await jon.page.getByRole("log", { name: "Messages" }).getByRole("img", { name: "photo.png" }).waitFor(WAIT);
    await shot(jon, "files-04-untampered");
    assert.deepEqual([...ivy.blocked, ...jon.blocked], [], "the Content-Security-Policy blocked something");
  } catch (err) {
    for (const p of [ivy, jon]) await shot(p, "files-failed").catch(() => undefined);
    throw err;
  } finally {
    await ivy.context.close();
    await jon.context.close();
  }
});

async function samplePng(page, width = 64, height = 48) {
  const dataUrl = await page.evaluate(([w, h]) => {
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext("2d");
    g.fillStyle = "#059669";
    g.fillRect(0, 0, w, h);
    return canvas.toDataURL("image/png");
  }, [width, height]);
  return Buffer.from(dataUrl.split(",")[1], "base64");
}
