// End to end: emoji (SAS) verification between two people in two browser contexts, then secure
// key backup with a recovery key, restored on a new device in a third context.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiLogin, attach, expectMessage, fileBadge, messages, person, register, sendText, setUp, shot, signIn, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

const emojiNames = async (p) => (await p.page.getByRole("list", { name: "Emoji to compare" }).getByRole("listitem").allInnerTexts()).map((t) => t.trim().split("\n").at(-1));

async function openPanel(p, item) {
  await p.page.getByRole("button", { name: "Account menu" }).click();
  await p.page.getByRole("menuitem", { name: item }).click();
  return p.page.getByRole("dialog", { name: item });
}

test("SAS verification, then key backup restored on a new device", async () => {
  const gus = await person(env.browser, "gus");
  const hana = await person(env.browser, "hana");
  let gus2;
  try {
    await register(gus, env.server.url);
    await register(hana, env.server.url);
    await startDm(gus, hana);

    // Gus verifies Hana by comparing emoji; both then show her or him as verified.
    await gus.page.getByRole("button", { name: "Verify", exact: true }).click();
    const incoming = hana.page.getByRole("dialog", { name: "Verify" });
    await incoming.getByRole("button", { name: "Accept" }).click();
    for (const p of [gus, hana]) await p.page.getByRole("list", { name: "Emoji to compare" }).waitFor(WAIT);
    const [seenByGus, seenByHana] = [await emojiNames(gus), await emojiNames(hana)];
    assert.equal(seenByGus.length, 7);
    assert.deepEqual(seenByGus, seenByHana, "both screens show the same emoji");
    await shot(hana, "crypto-01-sas-emoji");
    for (const p of [gus, hana]) await p.page.getByRole("dialog", { name: "Verify" }).getByRole("button", { name: "They match" }).click();
    for (const p of [gus, hana]) {
      await p.page.getByRole("dialog", { name: "Verify" }).getByText(/is verified\.$/).waitFor(WAIT);
      await p.page.getByRole("dialog", { name: "Verify" }).getByRole("button", { name: "Close" }).click();
      await p.page.getByText("Verified", { exact: true }).waitFor(WAIT);
    }
    await shot(gus, "crypto-02-verified");

    // After the emoji check, an image Gus's device signs shows "Verified" in Hana's browser.
    const png = Buffer.from(
      (await gus.page.evaluate(() => {
        const canvas = document.createElement("canvas");
        canvas.width = 40;
        canvas.height = 30;
        canvas.getContext("2d").fillRect(0, 0, 40, 30);
        return canvas.toDataURL("image/png");
      })).split(",")[1],
      "base64",
    );
    await attach(gus, "after-sas.png", "image/png", png);
    await messages(hana).getByRole("img", { name: "after-sas.png" }).waitFor(WAIT);
    await fileBadge(hana, "after-sas.png", "Verified").waitFor(WAIT);
    await shot(hana, "crypto-02b-verified-file");

    // Gus turns on key backup; the recovery key is shown once.
    const security = await openPanel(gus, "Security and key backup");
    await security.getByRole("button", { name: "Set up key backup" }).click();
    // Generous: secret storage waits for its account data to come back through /sync.
    const started = Date.now();
    await security.getByTestId("recovery-key").waitFor({ timeout: 240_000 });
    console.log(`# key backup set up in ${Date.now() - started} ms`);
    const recoveryKey = (await security.getByTestId("recovery-key").innerText()).trim();
    assert.match(recoveryKey, /^[1-9A-HJ-NP-Za-km-z ]{40,}$/);
    await shot(gus, "crypto-03-recovery-key");
    await security.getByRole("button", { name: "I have saved it" }).click();
    await security.getByText(/^Key backup is on/).waitFor(WAIT);
    await security.getByRole("button", { name: "Close" }).click();

    // Messages both ways after the backup is on; wait until Gus's browser has backed up both keys.
    await sendText(hana, "Secret for later");
    await expectMessage(gus, "Secret for later");
    await sendText(gus, "Noted, from gus");
    await expectMessage(hana, "Noted, from gus");
    const api = await apiLogin(env.server.url, gus);
    const deadline = Date.now() + 60_000;
    while ((await api("GET", "/_matrix/client/v3/room_keys/version")).count < 2) {
      assert.ok(Date.now() < deadline, "the room keys were not backed up in time");
      await gus.page.waitForTimeout(250);
    }

    // A new device cannot read the history until it is restored with the recovery key.
    gus2 = await person(env.browser, "gus-new-device", undefined, "gus");
    await signIn(gus2, env.server.url);
    await gus2.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: "hana" }).click();
    await messages(gus2).getByText(/^Unable to decrypt this message/).first().waitFor(WAIT);
    await shot(gus2, "crypto-04-before-restore");
    const restore = await openPanel(gus2, "Security and key backup");
    await restore.getByRole("textbox", { name: "Recovery key" }).fill(recoveryKey);
    await restore.getByRole("button", { name: "Restore from backup" }).click();
    await gus2.page.getByRole("status").getByText(/^Restored \d+ message keys?\. This device is verified\.$/).waitFor(WAIT);
    await restore.getByText("This device is verified.").waitFor(WAIT);
    await restore.getByRole("button", { name: "Close" }).click();
    await expectMessage(gus2, "Secret for later");
    await expectMessage(gus2, "Noted, from gus");
    await shot(gus2, "crypto-05-restored");
    assert.deepEqual([...gus.blocked, ...hana.blocked, ...gus2.blocked], [], "the Content-Security-Policy blocked something");
  } catch (err) {
    for (const p of [gus, hana, gus2].filter(Boolean)) await shot(p, "crypto-failed").catch(() => undefined);
    throw err;
  } finally {
    for (const p of [gus, hana, gus2].filter(Boolean)) await p.context.close();
  }
});
