// End to end: the PWA share target. Another app's share sheet POSTs text and a file to /share;
// the service worker keeps them and opens the app, which asks for a chat, puts the text in its
// composer and sends the file (encrypted and signed) when asked.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { expectMessage, fileBadge, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

test("the app is installable: manifest, icons, service worker, share target", async () => {
  const manifest = await (await fetch(`${env.server.url}/manifest.webmanifest`)).json();
  assert.equal(manifest.display, "standalone");
  assert.deepEqual([manifest.share_target.method, manifest.share_target.enctype], ["POST", "multipart/form-data"]);
  const sizes = [];
  for (const icon of manifest.icons) {
    const resp = await fetch(new URL(icon.src, env.server.url));
    assert.equal(resp.status, 200, icon.src);
    assert.equal(resp.headers.get("content-type").split(";")[0], icon.type, icon.src);
    sizes.push(icon.sizes);
  }
  assert.ok(sizes.includes("192x192") && sizes.includes("512x512"), "the 192 and 512 px icons are missing");
  assert.equal((await fetch(`${env.server.url}/sw.js`)).status, 200);
});

test("a file and text shared from another app land in the chosen chat", async () => {
  const wes = await person(env.browser, "wes");
  const xan = await person(env.browser, "xan");
  try {
    await register(wes, env.server.url);
    await register(xan, env.server.url);
    await startDm(wes, xan);
    await wes.page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, WAIT);

    // What the share sheet does: a form POST to the share target's action.
    await wes.page.evaluate(() => {
      const form = document.createElement("form");
      form.method = "post";
      form.enctype = "multipart/form-data";
      form.action = "/share";
      const text = document.createElement("input");
      text.name = "text";
      text.value = "Found this for you";
      const files = document.createElement("input");
      files.type = "file";
      files.name = "files";
      const picked = new DataTransfer();
      picked.items.add(new File(["shared from another app\n"], "shared.txt", { type: "text/plain" }));
      files.files = picked.files;
      form.append(text, files);
      document.body.append(form);
      form.submit();
    });
    await wes.page.getByRole("status").getByText("Choose a chat to share 1 file into.").waitFor(WAIT);
    await shot(wes, "share-01-choose-chat");
    await wes.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /xan/ }).click();
    await wes.page.waitForFunction(() => document.querySelector('textarea[aria-label="Message"]')?.value === "Found this for you", null, WAIT);
    await wes.page.getByRole("group", { name: "Shared files" }).getByRole("button", { name: "Send shared file" }).click();
    await fileBadge(xan, "shared.txt", "Unverified device").waitFor(WAIT);
    await wes.page.getByRole("button", { name: "Send", exact: true }).click();
    await expectMessage(xan, "Found this for you");
    await shot(xan, "share-02-received");

    // Nothing is offered twice: after a reload there is no pending share.
    await wes.page.goto(`${env.server.url}/?shared=1`);
    await wes.page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
    await sendText(xan, "got it");
    await wes.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /xan/ }).click();
    await expectMessage(wes, "got it");
    assert.equal(await wes.page.getByText(/^Choose a chat to share/).count(), 0, "the share was offered twice");
  } catch (err) {
    for (const p of [wes, xan]) await shot(p, "share-failed").catch(() => undefined);
    throw err;
  } finally {
    await wes.context.close();
    await xan.context.close();
  }
});
