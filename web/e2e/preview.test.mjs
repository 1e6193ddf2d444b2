// End to end: URL previews. A page served on loopback (the homeserver is allowed to fetch it)
// is previewed under a message: at once in an unencrypted room, and in an encrypted room only
// after "Show link preview", before which the server is never asked (the page counts its visits).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { apiLogin, bubble, expectMessage, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
let env;
let site;
const visits = new Map();

before(async () => {
  site = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    visits.set(path, (visits.get(path) ?? 0) + 1);
    if (path === "/pic.png") {
      res.writeHead(200, { "Content-Type": "image/png" }).end(PNG);
      return;
    }
    const title = path === "/secret" ? "A page only previewed on request" : "Tessera preview test";
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(
      `<!doctype html><html><head><title>x</title><meta property="og:title" content="${title}">` +
        `<meta property="og:description" content="A page served to test link previews.">` +
        `<meta property="og:site_name" content="Loopback"><meta property="og:image" content="/pic.png"></head><body>hi</body></html>`,
    );
  });
  await new Promise((ok) => site.listen(0, "127.0.0.1", ok));
  env = await setUp({ media: ["url_preview:", "  enabled: true", '  allowed_ip_ranges: ["127.0.0.1/32"]'] });
});

after(async () => {
  await env?.close();
  await new Promise((ok) => site?.close(ok));
});

test("link previews: shown in an unencrypted room, asked for in an encrypted one", async () => {
  const sam = await person(env.browser, "sam");
  const tia = await person(env.browser, "tia");
  const base = `http://127.0.0.1:${site.address().port}`;
  try {
    await register(sam, env.server.url);
    await register(tia, env.server.url);

    const api = await apiLogin(env.server.url, sam);
    const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Links", preset: "private_chat" });
    await api("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/link-1`, { msgtype: "m.text", body: `Look: ${base}/page` });
    await sam.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /Links/ }).click();
    const card = bubble(sam, "Look:").getByRole("link", { name: "Link preview: Tessera preview test" });
    await card.waitFor(WAIT);
    const picture = card.locator("img");
    await picture.waitFor(WAIT);
    await picture.evaluate((img) => img.decode());
    assert.equal(await picture.evaluate((img) => img.naturalWidth), 1, "the preview image did not load");
    assert.equal(await card.getAttribute("href"), `${base}/page`);
    await shot(sam, "preview-01-plain-room");

    await startDm(sam, tia);
    await sendText(sam, `Private: ${base}/secret`);
    await expectMessage(tia, `Private: ${base}/secret`);
    const ask = bubble(tia, "Private:").getByRole("button", { name: "Show link preview" });
    await ask.waitFor(WAIT);
    await bubble(sam, "Private:").getByRole("button", { name: "Show link preview" }).waitFor(WAIT);
    assert.equal(visits.get("/secret") ?? 0, 0, "the server fetched a link from an encrypted room unasked");
    await ask.click();
    await bubble(tia, "Private:").getByRole("link", { name: "Link preview: A page only previewed on request" }).waitFor(WAIT);
    assert.equal(visits.get("/secret"), 1);
    await shot(tia, "preview-02-encrypted-on-request");
  } catch (err) {
    for (const p of [sam, tia]) await shot(p, "preview-failed").catch(() => undefined);
    throw err;
  } finally {
    await sam.context.close();
    await tia.context.close();
  }
});
