// End to end: searching messages. Encrypted rooms are searched in the browser's persistent index
// (IndexedDB) of the messages it received and decrypted: it still finds a message after a
// reload, when that message is no longer in the loaded history, and the index is deleted when the
// person signs out. Unencrypted rooms are searched by the server's /search, or, on a server with
// search turned off, in the same browser index.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { apiLogin, expectMessage, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

/** Search until `text` is among the results (the server indexes as it goes). */
async function searchUntil(p, query, text) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = await search(p, query);
    if (await found.results.getByRole("button").filter({ hasText: text }).count()) return found;
    assert.ok(Date.now() < deadline, `searching "${query}" never found "${text}"`);
    await found.dialog.getByRole("button", { name: "Close" }).click();
  }
}

async function search(p, query) {
  await p.page.getByRole("button", { name: "Account menu" }).click();
  await p.page.getByRole("menuitem", { name: "Search messages" }).click();
  const dialog = p.page.getByRole("dialog", { name: "Search messages" });
  await dialog.getByRole("textbox", { name: "Search messages" }).fill(query);
  await dialog.getByRole("button", { name: "Search" }).click();
  const results = dialog.getByRole("list", { name: "Search results" });
  await results.waitFor(WAIT);
  return { dialog, results };
}

const searchDatabases = (p) => p.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith("tessera-search")));

async function flow(env, source) {
  const oli = await person(env.browser, "oli");
  const pam = await person(env.browser, "pam");
  try {
    await register(oli, env.server.url);
    await register(pam, env.server.url);
    await startDm(pam, oli);

    // An encrypted message, then more than a first sync loads (30), so after a reload it is only
    // in the index.
    await sendText(pam, "The spare key is under the blue flowerpot");
    for (let i = 1; i <= 35; i += 1) await sendText(pam, `filler ${i}`);
    await expectMessage(oli, "filler 35");

    // An unencrypted room: searched by the server, or by the browser's index when the server
    // does not search.
    const api = await apiLogin(env.server.url, pam);
    const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Garden club", preset: "private_chat", invite: ["@oli:localhost"] });
    await oli.page.getByRole("button", { name: "Accept invitation to Garden club" }).click();
    await oli.page.getByRole("heading", { name: "Garden club", level: 2 }).waitFor(WAIT);
    await api("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/pot-1`, { msgtype: "m.text", body: "New flowerpots for the Garden club" });
    await expectMessage(oli, "New flowerpots for the Garden club");

    await oli.page.reload();
    await oli.page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
    const { dialog, results } = await searchUntil(oli, "FLOWERPOT", "New flowerpots");
    await dialog.getByText(source).waitFor(WAIT);
    const found = results.getByRole("button");
    await found.filter({ hasText: "under the blue flowerpot" }).waitFor(WAIT);
    await found.filter({ hasText: "New flowerpots" }).waitFor(WAIT);
    assert.equal(await found.count(), 2);
    await shot(oli, `search-01-after-reload-${env.name}`);

    // A result opens its room.
    await found.filter({ hasText: "under the blue flowerpot" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    await oli.page.getByRole("heading", { name: "pam", level: 2 }).waitFor(WAIT);

    // Words must all match, as word beginnings.
    const none = await search(oli, "flowerpot purple");
    await none.results.getByText(/^Nothing found/).waitFor(WAIT);
    await none.dialog.getByRole("button", { name: "Close" }).click();

    assert.deepEqual(await searchDatabases(oli), ["tessera-search:@oli:localhost"]);
    await oli.page.getByRole("button", { name: "Account menu" }).click();
    await oli.page.getByRole("menuitem", { name: "Sign out" }).click();
    await oli.page.getByRole("button", { name: "Sign in" }).waitFor(WAIT);
    assert.deepEqual(await searchDatabases(oli), [], "the index of decrypted messages survived signing out");
  } catch (err) {
    for (const p of [oli, pam]) await shot(p, `search-failed-${env.name}`).catch(() => undefined);
    throw err;
  } finally {
    await oli.context.close();
    await pam.context.close();
  }
}

for (const [name, options, source] of [
  ["server", {}, /^Chats that are not encrypted were searched by your server/],
  ["no-server", { config: ["search:", "  enabled: false"] }, /^Your server did not search/],
]) {
  describe(`search with ${name === "server" ? "the server's /search" : "search turned off on the server"}`, () => {
    test("encrypted messages are found after a reload from the browser's index, which signing out deletes", async () => {
      const env = await setUp(options);
      try {
        await flow({ ...env, name }, source);
      } finally {
        await env.close();
      }
    });
  });
}
