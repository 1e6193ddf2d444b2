// Interop: the web client and the Python SDK (tests/web/interop_peer.py, with its end-to-end
// encryption) in one encrypted DM. A message and a file from the browser are read and checked by
// Python (the file's signature by the browser's device included), and a message and a file from
// Python are read, decrypted and signature-checked in the browser.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { expectMessage, fileBadge, messages, person, register, sendText, setUp, shot, WAIT } from "./helpers.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
let env;
let peer;

before(async () => {
  env = await setUp();
});

after(async () => {
  if (peer && peer.exitCode === null) {
    const exited = new Promise((r) => peer.once("exit", r));
    peer.kill("SIGTERM");
    await exited;
  }
  await env?.close();
});

function startPeer(username, password) {
  const python = process.env.TESSERA_PYTHON ?? join(REPO, ".venv", "bin", "python");
  peer = spawn(python, [join(REPO, "tests", "web", "interop_peer.py"), env.server.url, username, password], {
    cwd: REPO,
    env: { ...process.env, PYTHONPATH: REPO },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((ok, fail) => {
    peer.once("exit", (code) => fail(new Error(`the Python peer exited with ${code}`)));
    peer.stdout.on("data", (chunk) => chunk.toString().includes("READY") && ok());
  });
}

test("a message and a file each way between the web client and the Python SDK", async () => {
  const lee = await person(env.browser, "lee");
  try {
    await register(lee, env.server.url);
    await startPeer("py", "pw-py-correct-horse");

    // Lee starts an encrypted DM with the Python user, who joins and says so.
    await lee.page.getByRole("button", { name: "Start chat" }).click();
    await lee.page.getByRole("textbox", { name: "User ID or username" }).fill("py");
    await lee.page.getByRole("button", { name: "Start", exact: true }).click();
    await expectMessage(lee, "python is here");

    // Browser → Python: a text, then a file whose hash Python reports after decrypting it and
    // checking the browser device's signature (from a device Python has not verified).
    await sendText(lee, "hello python");
    await expectMessage(lee, "python read: hello python");
    const bytes = Buffer.from("a file made in the browser\n".repeat(50));
    const [chooser] = await Promise.all([lee.page.waitForEvent("filechooser"), lee.page.getByRole("button", { name: "Attach file" }).click()]);
    await chooser.setFiles({ name: "note.txt", mimeType: "text/plain", buffer: bytes });
    await expectMessage(lee, `python got note.txt sha256 ${createHash("sha256").update(bytes).digest("hex")} unverified_device`);

    // Python → browser: a text, and a file decrypted in the browser with the same bytes.
    await expectMessage(lee, "hello from python");
    const link = messages(lee).getByRole("link", { name: "Download from-python.txt" });
    await link.waitFor(WAIT);
    const [download] = await Promise.all([lee.page.waitForEvent("download"), link.click()]);
    assert.equal(download.suggestedFilename(), "from-python.txt");
    assert.equal(readFileSync(await download.path(), "utf8"), "contents written by the Python SDK\n");
    await fileBadge(lee, "from-python.txt", "Unverified device").waitFor(WAIT);
    await shot(lee, "interop-01-python");
  } catch (err) {
    await shot(lee, "interop-failed").catch(() => undefined);
    throw err;
  } finally {
    await lee.context.close();
  }
});
