// End to end: two people in two browser contexts register, start an encrypted DM, exchange
// messages both ways and an image, on a desktop window and on a 360x640 phone screen.
// Runs Debian's Chromium through playwright-core against a live Tessera; screenshots of each step
// land in web/test-results/.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { expectMessage, person as newPerson, register as registerAt, sendText, setUp, shot, WAIT } from "./helpers.mjs";

let env;
let server;

before(async () => {
  env = await setUp();
  server = env.server;
});

after(async () => {
  await env?.close();
});

const person = (name, viewport) => newPerson(env.browser, name, viewport);
const register = (p) => registerAt(p, server.url);

async function samplePng(page) {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 120;
    canvas.height = 80;
    const g = canvas.getContext("2d");
    g.fillStyle = "#4f46e5";
    g.fillRect(0, 0, 120, 80);
    g.fillStyle = "#fbbf24";
    g.fillRect(30, 20, 60, 40);
    return canvas.toDataURL("image/png");
  });
  return Buffer.from(dataUrl.split(",")[1], "base64");
}

async function coreFlow(alice, bob, mobile) {
  try {
    await steps(alice, bob, mobile);
    assert.deepEqual([...alice.blocked, ...bob.blocked], [], "the Content-Security-Policy blocked something");
  } catch (err) {
    await shot(alice, "failed").catch(() => undefined);
    await shot(bob, "failed").catch(() => undefined);
    throw err;
  }
}

async function steps(alice, bob, mobile) {
  await register(alice);
  await register(bob);

  // Alice starts an encrypted DM with Bob.
  await alice.page.getByRole("button", { name: "Start chat" }).click();
  await alice.page.getByRole("textbox", { name: "User ID or username" }).fill(bob.name);
  await alice.page.getByRole("button", { name: "Start", exact: true }).click();
  await alice.page.getByRole("heading", { name: bob.name, level: 2 }).waitFor(WAIT);
  await shot(alice, "03-dm-started");

  // Bob accepts the invitation.
  const accept = bob.page.getByRole("button", { name: /^Accept invitation/ });
  await accept.waitFor(WAIT);
  await shot(bob, "03-invited");
  await accept.click();
  await bob.page.getByRole("heading", { name: alice.name, level: 2 }).waitFor(WAIT);
  const encrypted = bob.page.getByRole("img", { name: "End-to-end encrypted" }).or(bob.page.getByText("End-to-end encrypted", { exact: true }));
  await encrypted.filter({ visible: true }).first().waitFor(WAIT);

  // Messages both ways.
  await sendText(bob, `Hi ${alice.name}, this is ${bob.name}`);
  await expectMessage(alice, `Hi ${alice.name}, this is ${bob.name}`);
  await sendText(alice, `Hello ${bob.name}! Encrypted?`);
  await expectMessage(bob, `Hello ${bob.name}! Encrypted?`);
  await shot(alice, "04-messages");
  await shot(bob, "04-messages");

  // An image from Alice that Bob sees, decrypted in his browser.
  const png = await samplePng(alice.page);
  const [chooser] = await Promise.all([
    alice.page.waitForEvent("filechooser"),
    alice.page.getByRole("button", { name: "Attach file" }).click(),
  ]);
  await chooser.setFiles({ name: `${alice.name}-photo.png`, mimeType: "image/png", buffer: png });
  const image = bob.page.getByRole("log", { name: "Messages" }).getByRole("img", { name: `${alice.name}-photo.png` });
  await image.waitFor(WAIT);
  const size = await image.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [120, 80]);
  await shot(bob, "05-image-received");

  // A self-destructing message shows on both sides, then disappears from both on time.
  await alice.page.getByRole("combobox", { name: "Self-destruct timer" }).selectOption({ label: "Timer: 10 seconds" });
  await sendText(alice, "This message self-destructs");
  await expectMessage(bob, "This message self-destructs");
  await expectMessage(alice, "This message self-destructs");
  await shot(bob, "06-self-destruct-countdown");
  await alice.page.getByRole("combobox", { name: "Self-destruct timer" }).selectOption({ label: "No timer" });
  for (const p of [alice, bob]) {
    await p.page.getByRole("log", { name: "Messages" }).getByText("This message self-destructs").waitFor({ state: "detached", ...WAIT });
  }
  await shot(bob, "07-self-destructed");

  // The session survives a reload: keys and history come back from IndexedDB.
  const started = Date.now();
  await bob.page.reload();
  await bob.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: alice.name }).waitFor(WAIT);
  console.log(`# ${bob.name}: reload to an interactive room list in ${Date.now() - started} ms`);
  if (mobile || !(await bob.page.getByRole("heading", { name: alice.name }).isVisible())) {
    await bob.page.getByRole("button", { name: alice.name }).click();
  }
  await expectMessage(bob, `Hello ${bob.name}! Encrypted?`);
  await shot(bob, "08-after-reload");
}

describe("web client", () => {
  test("desktop: encrypted DM, messages both ways, an image", async () => {
    const alice = await person("alice", { width: 1280, height: 800 });
    const bob = await person("bob", { width: 1280, height: 800 });
    try {
      await coreFlow(alice, bob, false);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });

  test("phone 360x640: the same flow", async () => {
    const carol = await person("carol", { width: 360, height: 640 });
    const dave = await person("dave", { width: 360, height: 640 });
    try {
      await coreFlow(carol, dave, true);
      const overflow = await carol.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(overflow, false, "the page scrolls sideways at 360 px");
    } finally {
      await carol.context.close();
      await dave.context.close();
    }
  });
});
