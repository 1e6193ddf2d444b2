// Accessibility: axe-core audits the sign-in screen, the chat (light and dark, desktop and phone)
// and the dialogs; no serious or critical violations are allowed.
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
