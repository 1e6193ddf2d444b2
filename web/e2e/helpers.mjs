// Shared pieces of the browser tests: Debian's Chromium through playwright-core, one context per
// person, screenshots in web/test-results/, and waits on conditions with generous timeouts.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { startHomeserver } from "./server.mjs";

export const ARTIFACTS = new URL("../test-results/", import.meta.url).pathname;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const WAIT = { timeout: 60_000 };

/** Start a homeserver (`options` as `startHomeserver` takes them) and a browser; returns
 * { server, browser, close }. */
export async function setUp(options = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startHomeserver(options);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: FLAGS });
  return {
    server,
    browser,
    async close() {
      await browser.close();
      await server.stop();
    },
  };
}

/** A person in a fresh browser context; `blocked` collects Content-Security-Policy reports.
 * `options` go to the context (`serviceWorkers: "block"` lets `context.route` see every request). */
export async function person(browser, name, viewport = { width: 1280, height: 800 }, user = name, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  const blocked = [];
  page.on("pageerror", (err) => console.error(`[${name}] page error: ${err.message}`));
  page.on("console", (msg) => {
    if (/Content.Security.Policy/i.test(msg.text())) blocked.push(msg.text());
  });
  return { name, user, context, page, blocked, password: `pw-${user}-correct-horse` };
}

export async function shot(p, step) {
  await p.page.screenshot({ path: `${ARTIFACTS}${p.name}-${step}.png` });
}

async function authenticate(p, url, button) {
  const { page } = p;
  await page.goto(url);
  await page.getByRole("textbox", { name: "Username" }).fill(p.user);
  await page.getByRole("textbox", { name: "Password" }).fill(p.password);
  await page.getByRole("button", { name: button }).click();
  await page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
}

/** Create the account in the browser (keys are made there) and wait for the room list. */
export async function register(p, url) {
  await p.page.goto(url);
  await p.page.getByRole("textbox", { name: "Username" }).fill(p.user);
  await p.page.getByRole("textbox", { name: "Password" }).fill(p.password);
  await shot(p, "01-sign-up");
  await p.page.getByRole("button", { name: "Create account" }).click();
  await p.page.getByRole("navigation", { name: "Rooms" }).waitFor(WAIT);
  await shot(p, "02-signed-in");
}

/** Sign in to an existing account in this context (a new device). */
export async function signIn(p, url) {
  await authenticate(p, url, "Sign in");
}

export async function sendText(p, text) {
  await p.page.getByRole("textbox", { name: "Message" }).fill(text);
  await p.page.getByRole("button", { name: "Send" }).click();
}

export function messages(p) {
  return p.page.getByRole("log", { name: "Messages" });
}

export async function expectMessage(p, text) {
  await messages(p).getByText(text, { exact: true }).waitFor(WAIT);
}

/** The message bubble (an <article>) holding `text`. */
export function bubble(p, text) {
  return messages(p).locator("article").filter({ hasText: text });
}

/** `a` starts an encrypted DM with `b`, who accepts it; both end up in the open room. */
export async function startDm(a, b) {
  await a.page.getByRole("button", { name: "Start chat" }).click();
  await a.page.getByRole("textbox", { name: "User ID or username" }).fill(b.name);
  await a.page.getByRole("button", { name: "Start", exact: true }).click();
  await a.page.getByRole("heading", { name: b.name, level: 2 }).waitFor(WAIT);
  const accept = b.page.getByRole("button", { name: /^Accept invitation/ });
  await accept.waitFor(WAIT);
  await accept.click();
  await b.page.getByRole("heading", { name: a.name, level: 2 }).waitFor(WAIT);
}

/** Attach a file through the composer's file chooser. */
export async function attach(p, name, mimeType, buffer) {
  const [chooser] = await Promise.all([p.page.waitForEvent("filechooser"), p.page.getByRole("button", { name: "Attach file" }).click()]);
  await chooser.setFiles({ name, mimeType, buffer });
}

/** The trust badge (verified, unverified device, not signed, invalid) on the file `name`. */
export function fileBadge(p, name, label) {
  return bubble(p, name).getByRole("img", { name: new RegExp(`^${label}:`) });
}

/** Sign in over the API from node (a separate device) for set-up the UI does not offer. */
export async function apiLogin(url, p) {
  const resp = await fetch(`${url}/_matrix/client/v3/login`, {
    method: "POST",
    body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: p.user }, password: p.password }),
  });
  const { access_token } = await resp.json();
  const call = async (method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${access_token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.json();
  };
  call.token = access_token;
  return call;
}
