// Accessibility: axe-core audits the sign-in screen, the chat (light and dark, desktop and phone)
// and the dialogs; no serious or critical violations are allowed. Then the core flow with the
// keyboard alone.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { attach, fileBadge, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

/** Serious and critical violations on the page as it is now, as readable lines. */
async function audit(p, where) {
  await p.page.evaluate(AXE);
  const violations = await p.page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  return violations.map((v) => `${where}: ${v}`);
}

test("no serious accessibility violations", async () => {
  const jay = await person(env.browser, "jay");
  const kim = await person(env.browser, "kim");
  const found = [];
  try {
    await jay.page.goto(env.server.url);
    await jay.page.getByRole("textbox", { name: "Username" }).waitFor(WAIT);
    found.push(...(await audit(jay, "sign-in")));
    await register(jay, env.server.url);
    await register(kim, env.server.url);
    await startDm(jay, kim);
    await sendText(kim, "Hello **there**, see https://example.org");
    await jay.page.getByRole("log", { name: "Messages" }).getByRole("link", { name: "https://example.org" }).waitFor(WAIT);
    await attach(kim, "notes.txt", "text/plain", Buffer.from("file badge contrast\n"));
    await fileBadge(jay, "notes.txt", "Unverified device").waitFor(WAIT);
    await fileBadge(kim, "notes.txt", "Verified").waitFor(WAIT);
    found.push(...(await audit(jay, "chat, light")));
    await kim.page.setViewportSize({ width: 360, height: 640 });
    found.push(...(await audit(kim, "chat, phone")));
    await kim.page.getByRole("button", { name: "Account menu" }).click();
    await kim.page.getByRole("menuitem", { name: "Search messages" }).click();
    const search = kim.page.getByRole("dialog", { name: "Search messages" });
    await search.getByRole("textbox", { name: "Search messages" }).fill("there");
    await search.getByRole("button", { name: "Search" }).click();
    await search.getByRole("list", { name: "Search results" }).getByRole("button").first().waitFor(WAIT);
    found.push(...(await audit(kim, "search, phone")));
    await jay.page.getByRole("button", { name: "Use dark theme" }).click();
    found.push(...(await audit(jay, "chat, dark")));
    await jay.page.getByRole("button", { name: "Room settings" }).click();
    found.push(...(await audit(jay, "room settings, dark")));
    await jay.page.getByRole("dialog", { name: "Room settings" }).getByRole("button", { name: "Close" }).click();
    await jay.page.getByRole("button", { name: "Account menu" }).click();
    await jay.page.getByRole("menuitem", { name: "Security and key backup" }).click();
    await jay.page.getByRole("dialog", { name: "Security and key backup" }).getByRole("list", { name: "Security status" }).waitFor(WAIT);
    found.push(...(await audit(jay, "security, dark")));
    await shot(jay, "a11y-security-dark");
    assert.deepEqual(found, [], `accessibility violations:\n${found.join("\n")}`);
  } catch (err) {
    await shot(jay, "a11y-failed").catch(() => undefined);
    throw err;
  } finally {
    await jay.context.close();
    await kim.context.close();
  }
});

/** Press Tab until the focused control is named `name`; fails after `max` presses. */
async function tabTo(page, name, max = 60) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return (el?.getAttribute("aria-label") || el?.labels?.[0]?.innerText || el?.innerText || "").trim();
    });
    if (focused === name || focused.startsWith(`${name}\n`)) return;
  }
  throw new Error(`"${name}" cannot be reached with the Tab key`);
}

test("keyboard only: create an account, start a chat and send a message", async () => {
  const lou = await person(env.browser, "lou");
  const max = await person(env.browser, "max");
  try {
    await register(max, env.server.url);
    const { page } = lou;
    await page.goto(env.server.url);
    await page.getByRole("textbox", { name: "Username" }).waitFor(WAIT);
    await tabTo(page, "Username");
    await page.keyboard.type(lou.user);
    await tabTo(page, "Password");
    await page.keyboard.type(lou.password);
    await tabTo(page, "Create account");
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
    await tabTo(page, "Start chat");
    await page.keyboard.press("Enter");
    await page.keyboard.type("max"); // the dialog's first field has the focus
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "max", level: 2 }).waitFor(WAIT);
    await tabTo(page, "Message");
    await page.keyboard.type("typed without a mouse");
    await page.keyboard.press("Enter");
    await max.page.getByRole("button", { name: /^Accept invitation/ }).click();
    await max.page.getByRole("log", { name: "Messages" }).getByText("typed without a mouse").waitFor(WAIT);
    await shot(lou, "a11y-keyboard-only");
  } catch (err) {
    await shot(lou, "a11y-keyboard-failed").catch(() => undefined);
    throw err;
  } finally {
    await lou.context.close();
    await max.context.close();
  }
});
