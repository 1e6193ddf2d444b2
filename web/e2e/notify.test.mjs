// End to end: alerts for new messages. With notifications allowed, a message in a room that is
// not open raises a browser notification (decrypted text, sender's name); with the sound turned
// on (kept across reloads) the chime plays; a muted room raises neither.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

/** Record notifications and oscillators started (the chime) in `window.__alerts`. */
function spyOnAlerts() {
  window.__alerts = { notes: [], tones: 0 };
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__alerts.notes.push({ title, body: options?.body });
    }
  }
  Object.defineProperty(window, "Notification", { value: Recorded, configurable: true, writable: true });
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function createOscillator() {
    window.__alerts.tones += 1;
    return create.call(this);
  };
}

const alerts = (p) => p.page.evaluate(() => window.__alerts);

test("a message in another room notifies and chimes; a muted room does not", async () => {
  const uma = await person(env.browser, "uma");
  const vic = await person(env.browser, "vic");
  try {
    await uma.context.grantPermissions(["notifications"], { origin: env.server.url });
    await uma.context.addInitScript(spyOnAlerts);
    await register(uma, env.server.url);
    await register(vic, env.server.url);
    await startDm(vic, uma);

    // Sound on, and still on after a reload (which leaves no room open).
    await uma.page.getByRole("button", { name: "Account menu" }).click();
    await uma.page.getByRole("menuitemcheckbox", { name: "Sound for new messages" }).click();
    await uma.page.reload();
    await uma.page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
    await uma.page.getByRole("button", { name: "Account menu" }).click();
    assert.equal(await uma.page.getByRole("menuitemcheckbox", { name: "Sound for new messages" }).getAttribute("aria-checked"), "true");
    // The browser lets the chime play after a gesture on the page: this click turns it off and on.
    await uma.page.getByRole("menuitemcheckbox", { name: "Sound for new messages" }).click();
    await uma.page.getByRole("button", { name: "Account menu" }).click();
    await uma.page.getByRole("menuitemcheckbox", { name: "Sound for new messages" }).click();
    const before = (await alerts(uma)).tones;

    await sendText(vic, "ping for uma");
    await uma.page.waitForFunction(() => window.__alerts.notes.some((n) => n.body === "ping for uma"), null, WAIT);
    const { notes, tones } = await alerts(uma);
    assert.deepEqual(notes.at(-1), { title: "vic", body: "ping for uma" });
    assert.ok(tones > before, "the chime did not play");
    await shot(uma, "notify-01-notified");

    // Muted: nothing for the next message, even with the page hidden.
    await uma.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /vic/ }).click();
    await uma.page.getByRole("button", { name: "Mute room" }).click();
    await uma.page.getByRole("button", { name: "Mute room", pressed: true }).waitFor(WAIT);
    const count = (await alerts(uma)).notes.length;
    await uma.page.evaluate(() => Object.defineProperty(document, "hidden", { value: true, configurable: true }));
    await sendText(vic, "muted ping");
    await uma.page.getByRole("log", { name: "Messages" }).getByText("muted ping").waitFor(WAIT);
    assert.equal((await alerts(uma)).notes.length, count, "a muted room raised a notification");
  } catch (err) {
    for (const p of [uma, vic]) await shot(p, "notify-failed").catch(() => undefined);
    throw err;
  } finally {
    await uma.context.close();
    await vic.context.close();
  }
});
