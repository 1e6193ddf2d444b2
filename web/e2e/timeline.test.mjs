// End to end: long rooms. History written through the API while the browser is syncing is paged
// back to its first message; a room of 10,000 messages is paged back to its start and scrolled
// through end to end with the timeline virtualised (only rows near the viewport in the page).
// Timings are printed (`# ...` lines), never asserted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiLogin, messages, person, register, setUp, shot, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

const label = (prefix, i) => `${prefix} ${String(i).padStart(5, "0")}`;

/** Send `count` text messages `prefix 00001`… to the room, `parallel` requests at a time, in
 * order of their numbers within each batch. */
async function sendMany(api, roomId, prefix, count, parallel = 1) {
  for (let start = 1; start <= count; start += parallel) {
    const batch = [];
    for (let i = start; i < Math.min(start + parallel, count + 1); i += 1) {
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${prefix.replace(/\W/g, "")}-${i}`;
      batch.push(api("PUT", path, { msgtype: "m.text", body: label(prefix, i) }));
    }
    for (const r of await Promise.all(batch)) assert.ok(r.event_id, `a message was refused: ${JSON.stringify(r)}`);
  }
}

async function openRoom(p, name) {
  await p.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: new RegExp(name) }).click();
  await p.page.getByRole("heading", { name, level: 2 }).waitFor(WAIT);
}

const toTop = (p) =>
  messages(p)
    .locator("xpath=..")
    .evaluate((el) => {
      el.scrollTop = 0;
    });

/** Keep scrolling to the top (each time there loads older messages) until the client says the
 * conversation starts there; returns how long it took. */
async function pageBackToStart(p, timeout = 600_000) {
  const started = Date.now();
  const beginning = p.page.getByText("This is the beginning of the conversation.");
  while (!(await beginning.count())) {
    assert.ok(Date.now() - started < timeout, "paging back did not reach the start");
    await toTop(p);
    await p.page.waitForTimeout(50);
  }
  const took = Date.now() - started;
  await toTop(p);
  return took;
}

const shownCount = async (p) => Number(await messages(p).getAttribute("data-count"));
const rendered = async (p) => messages(p).locator("article").count();

test("paging back reaches the first message of history written while the client syncs", async () => {
  const mia = await person(env.browser, "mia");
  try {
    await register(mia, env.server.url);
    const api = await apiLogin(env.server.url, mia);
    const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Busy room", preset: "private_chat" });
    await mia.page.getByRole("navigation", { name: "Rooms" }).getByRole("button", { name: /Busy room/ }).waitFor(WAIT);
    // Written in bursts while the browser's /sync is running: several syncs come back limited.
    await sendMany(api, roomId, "busy", 400, 8);
    await openRoom(mia, "Busy room");
    await messages(mia).getByText(label("busy", 400), { exact: true }).waitFor(WAIT);
    await pageBackToStart(mia, 120_000);
    await messages(mia).getByText(label("busy", 1), { exact: true }).waitFor(WAIT);
    assert.equal(await shownCount(mia), 400, "some messages are missing or shown twice");
    await shot(mia, "timeline-01-start-of-busy-room");

    // Switching between rooms already visited: time from the click to the other room's newest
    // message on screen.
    const { room_id: quietId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Quiet room", preset: "private_chat" });
    await sendMany(api, quietId, "quiet", 20);
    await openRoom(mia, "Quiet room");
    await messages(mia).getByText(label("quiet", 20), { exact: true }).waitFor(WAIT);
    const switches = [];
    for (let i = 0; i < 6; i += 1) {
      const [name, last] = i % 2 ? ["Quiet room", label("quiet", 20)] : ["Busy room", label("busy", 400)];
      // Timed in the page, from the click to the frame that shows the room's newest message.
      switches.push(
        await mia.page.evaluate(async ([room, text]) => {
          const button = [...document.querySelectorAll('nav[aria-label="Rooms"] button')].find((b) => b.innerText.includes(room));
          const started = performance.now();
          button.click();
          const shown = () => [...document.querySelectorAll('[role="log"] article')].some((a) => a.innerText.startsWith(text));
          while (!shown()) await new Promise((r) => requestAnimationFrame(r));
          return Math.round(performance.now() - started);
        }, [name, last]),
      );
    }
    switches.sort((a, b) => a - b);
    console.log(`# switching between visited rooms: median ${switches[3]} ms (of ${switches.join(", ")} ms, click to the frame showing the newest message)`);
  } catch (err) {
    await shot(mia, "timeline-failed").catch(() => undefined);
    throw err;
  } finally {
    await mia.context.close();
  }
});

test("10,000 messages: paged back to the start and scrolled through, virtualised", async () => {
  const ned = await person(env.browser, "ned");
  try {
    await register(ned, env.server.url);
    const api = await apiLogin(env.server.url, ned);
    const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { name: "Archive", preset: "private_chat" });
    const written = Date.now();
    await sendMany(api, roomId, "archive", 10_000, 32);
    console.log(`# 10,000 messages written through the API in ${Date.now() - written} ms`);

    await ned.page.reload();
    await openRoom(ned, "Archive");
    await messages(ned).getByText(label("archive", 10_000), { exact: true }).waitFor(WAIT);
    const back = await pageBackToStart(ned);
    console.log(`# paged back through 10,000 messages in ${back} ms`);
    await messages(ned).getByText(label("archive", 1), { exact: true }).waitFor(WAIT);
    assert.equal(await shownCount(ned), 10_000);
    assert.ok((await rendered(ned)) < 150, `the timeline is not virtualised: ${await rendered(ned)} rows in the page`);

    // Scroll from the first message to the last with the mouse wheel, timing every frame.
    const frames = await messages(ned).locator("xpath=..").evaluate(async (el) => {
      const gaps = [];
      let last = performance.now();
      let running = true;
      const tick = (t) => {
        gaps.push(t - last);
        last = t;
        if (running) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      const started = performance.now();
      while (el.scrollTop + el.clientHeight < el.scrollHeight - 2) {
        el.scrollTop += 600;
        await new Promise((r) => requestAnimationFrame(() => r()));
      }
      running = false;
      const sorted = [...gaps].sort((a, b) => a - b);
      return { ms: performance.now() - started, count: gaps.length, median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)], max: sorted.at(-1) };
    });
    console.log(`# scrolled 10,000 messages top to bottom in ${Math.round(frames.ms)} ms over ${frames.count} frames: median frame ${frames.median.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms, max ${frames.max.toFixed(1)} ms`);
    await messages(ned).getByText(label("archive", 10_000), { exact: true }).waitFor(WAIT);
    assert.ok((await rendered(ned)) < 150, "the timeline is not virtualised at the bottom");
    await shot(ned, "timeline-02-archive-bottom");
  } catch (err) {
    await shot(ned, "timeline-failed").catch(() => undefined);
    throw err;
  } finally {
    await ned.context.close();
  }
});
