// Starts a real Tessera homeserver for the end-to-end tests: a temp data dir, registration open,
// rate limits out of the way, on a free port, serving the built client from web/dist.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitUntilUp(url, child, deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`homeserver exited with ${child.exitCode}`);
    try {
      const resp = await fetch(`${url}/_matrix/client/versions`);
      if (resp.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("homeserver did not start in time");
}

/** Start a homeserver; `config` lines are appended to its config and `media` lines to its
 * `media:` section (indented two spaces). Returns { url, stop }. */
export async function startHomeserver({ config = [], media = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-web-e2e-"));
  const port = await freePort();
  const generous = "{per_second: 1000, burst: 1000}";
  writeFileSync(
    join(dir, "config.yaml"),
    [
      "server_name: localhost",
      "bind: 127.0.0.1",
      `port: ${port}`,
      `data_dir: ${JSON.stringify(join(dir, "data"))}`,
      "enable_registration: true",
      "log_level: WARNING",
      "rate_limits:",
      ...["login", "login_failures", "registration", "message", "join"].map((k) => `  ${k}: ${generous}`),
      "media:",
      `  upload_rate: ${generous}`,
      ...media.map((line) => `  ${line}`),
      "web_client:",
      `  path: ${JSON.stringify(join(REPO, "web", "dist"))}`,
      ...config,
      "",
    ].join("\n"),
  );
  const python = process.env.TESSERA_PYTHON ?? join(REPO, ".venv", "bin", "python");
  const child = spawn(python, ["-m", "homeserver", "serve", "--config", join(dir, "config.yaml")], {
    cwd: REPO,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(url, child, 60_000);
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
