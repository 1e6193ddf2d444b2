// End to end: what people do to messages in an encrypted DM — markdown, replies, edits,
// reactions, deleting with a confirmation, and the room's retention banner.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiLogin, bubble, expectMessage, messages, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

async function act(p, text, action) {
  await bubble(p, text).first().getByRole("button", { name: "Message actions" }).click();
  await p.page.getByRole("menuitem", { name: action }).click();
}

test("replies, edits, reactions, delete and retention in an encrypted DM", async () => {
  const erin = await person(env.browser, "erin");
  const frank = await person(env.browser, "frank");
  try {
    await register(erin, env.server.url);
    await register(frank, env.server.url);

    // The first-run guide greets a new account until dismissed; Help is in the account menu.
    const guide = erin.page.getByRole("region", { name: "Getting started" });
    await guide.getByRole("button", { name: "Open Help" }).click();
    await erin.page.getByRole("dialog", { name: "Help" }).getByRole("heading", { name: "Encryption and your keys" }).waitFor(WAIT);
    await shot(erin, "actions-00-help");
    await erin.page.getByRole("dialog", { name: "Help" }).getByRole("button", { name: "Close" }).click();
    await guide.getByRole("button", { name: "Got it" }).click();
    await guide.waitFor({ state: "detached", ...WAIT });
    await startDm(erin, frank);

    // Markdown is rendered as elements, and HTML typed in a message stays text.
    await sendText(erin, "Plan: **bold** and `code` <b>not html</b>");
    await messages(frank).locator("strong", { hasText: "bold" }).waitFor(WAIT);
    await messages(frank).locator("code", { hasText: "code" }).waitFor(WAIT);
    assert.equal(await messages(frank).locator("b").count(), 0, "typed HTML was rendered");
    await frank.page.getByText("<b>not html</b>", { exact: false }).waitFor(WAIT);

    // Frank replies to it; Erin sees the quote.
    await act(frank, "Plan:", "Reply");
    await frank.page.getByText(/^Replying to erin/).waitFor(WAIT);
    await sendText(frank, "Sounds good");
    await expectMessage(erin, "Sounds good");
    await bubble(erin, "Sounds good").getByLabel("In reply to erin").waitFor(WAIT);
    await shot(erin, "actions-01-reply");

    // Erin edits her message; Frank sees the new text, marked as edited.
    await act(erin, "Plan:", "Edit");
    await erin.page.getByText("Editing your message").waitFor(WAIT);
    await sendText(erin, "Plan: *changed*");
    await bubble(frank, "Plan: changed").first().getByText("(edited)").waitFor(WAIT);
    await messages(frank).locator("em", { hasText: "changed" }).waitFor(WAIT);

    // Frank reacts; Erin sees the count and who reacted.
    await act(frank, "Plan: changed", "React with 👍");
    await bubble(erin, "Plan: changed").first().getByRole("button", { name: "👍 1, from frank" }).waitFor(WAIT);
    await shot(erin, "actions-02-edit-and-reaction");

    // Erin deletes it after confirming; a toast says so and Frank sees it gone.
    await act(erin, "Plan: changed", "Delete");
    const dialog = erin.page.getByRole("dialog", { name: "Delete message?" });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await erin.page.getByRole("status").getByText("Message deleted.").waitFor(WAIT);
    await messages(frank).getByText("This message was deleted.").first().waitFor(WAIT);
    await bubble(frank, "Plan: changed").waitFor({ state: "detached", ...WAIT });
    await shot(frank, "actions-03-deleted");

    // A retention policy set on the room shows as a banner.
    const api = await apiLogin(env.server.url, erin);
    const { joined_rooms: [roomId] } = await api("GET", "/_matrix/client/v3/joined_rooms");
    await api("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.retention/`, { max_lifetime: 7 * 86_400_000 });
    for (const p of [erin, frank]) await p.page.getByRole("note").getByText("Messages here are deleted after 7 days.").waitFor(WAIT);
    await shot(frank, "actions-04-retention");

    // A group room: renamed with a topic, Frank made moderator, then removed; each with a toast.
    const toast = (p, text) => p.page.getByRole("status").getByText(text).waitFor(WAIT);
    await erin.page.getByRole("button", { name: "New room" }).click();
    await erin.page.getByRole("textbox", { name: "Room name" }).fill("Team");
    await erin.page.getByRole("textbox", { name: /^Invite/ }).fill(frank.name);
    await erin.page.getByRole("button", { name: "Create" }).click();
    await erin.page.getByRole("heading", { name: "Team", level: 2 }).waitFor(WAIT);
    await frank.page.getByRole("button", { name: "Accept invitation to Team" }).click();
    await frank.page.getByRole("heading", { name: "Team", level: 2 }).waitFor(WAIT);
    await erin.page.getByRole("dialog", { name: "Room settings" }).waitFor({ state: "detached" });
    await erin.page.getByRole("button", { name: "Room settings" }).click();
    const settings = erin.page.getByRole("dialog", { name: "Room settings" });
    await settings.getByRole("textbox", { name: "Room name" }).fill("Plans");
    await settings.getByRole("textbox", { name: "Topic" }).fill("What we will do");
    await settings.getByRole("button", { name: "Save" }).click();
    await toast(erin, "Room name saved.");
    await frank.page.getByRole("heading", { name: "Plans", level: 2 }).waitFor(WAIT);
    await settings.getByRole("combobox", { name: "Role of frank" }).selectOption({ label: "Moderator" });
    await toast(erin, "frank is now Moderator.");
    await shot(erin, "actions-05-room-settings");
    await settings.getByRole("button", { name: "Remove frank" }).click();
    await erin.page.getByRole("dialog", { name: "Remove frank?" }).getByRole("button", { name: "Remove" }).click();
    await toast(erin, "frank was removed from the room.");
    await settings.getByRole("button", { name: "Close" }).click();

    // Devices: the extra device made above is renamed, then removed with the password.
    await erin.page.getByRole("button", { name: "Account menu" }).click();
    await erin.page.getByRole("menuitem", { name: "Devices" }).click();
    const devices = erin.page.getByRole("dialog", { name: "Your devices" });
    await devices.getByText("(this device)").waitFor(WAIT);
    const other = devices.getByRole("listitem").filter({ hasNotText: "(this device)" });
    await other.getByRole("button", { name: /^Rename/ }).click();
    await erin.page.getByRole("textbox", { name: "Device name" }).fill("Old laptop");
    await erin.page.getByRole("dialog", { name: "Rename device" }).getByRole("button", { name: "Rename" }).click();
    await toast(erin, "Device renamed.");
    await devices.getByRole("button", { name: "Remove Old laptop" }).click();
    await erin.page.getByRole("textbox", { name: "Your password" }).fill(erin.password);
    await erin.page.getByRole("dialog", { name: "Remove device" }).getByRole("button", { name: "Remove" }).click();
    await toast(erin, "Old laptop was signed out and removed.");
    await devices.getByText("Old laptop").waitFor({ state: "detached", ...WAIT });
    await shot(erin, "actions-06-devices");
    await devices.getByRole("button", { name: "Close" }).click();

    // Search finds a message in the encrypted DM (the local index) and opens its room.
    await erin.page.getByRole("button", { name: "Account menu" }).click();
    await erin.page.getByRole("menuitem", { name: "Search messages" }).click();
    const search = erin.page.getByRole("dialog", { name: "Search messages" });
    await search.getByRole("textbox", { name: "Search messages" }).fill("SOUNDS good");
    await search.getByRole("button", { name: "Search" }).click();
    await search.getByRole("list", { name: "Search results" }).getByRole("button", { name: /Sounds good/ }).click();
    await erin.page.getByRole("heading", { name: "frank", level: 2 }).waitFor(WAIT);

    // Muting the room: the bell is pressed, the room list says so.
    await erin.page.getByRole("button", { name: "Mute room" }).click();
    await toast(erin, "frank is muted.");
    await erin.page.getByRole("button", { name: "Mute room", pressed: true }).waitFor(WAIT);
    await erin.page.getByRole("navigation", { name: "Rooms" }).getByRole("img", { name: "muted" }).waitFor(WAIT);
    assert.deepEqual([...erin.blocked, ...frank.blocked], [], "the Content-Security-Policy blocked something");
  } catch (err) {
    await shot(erin, "actions-failed").catch(() => undefined);
    await shot(frank, "actions-failed").catch(() => undefined);
    throw err;
  } finally {
    await erin.context.close();
    await frank.context.close();
  }
});
