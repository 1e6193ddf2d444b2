// End to end: losing the connection. The client says it is offline; a message sent meanwhile is
// marked "not sent" with Retry once the client gives up, and goes out when Retry is pressed
// after the connection is back; delivered messages are marked as sent.
import { after, before, test } from "node:test";
import { bubble, expectMessage, person, register, sendText, setUp, shot, startDm, WAIT } from "./helpers.mjs";

let env;

before(async () => {
  env = await setUp();
});

after(async () => {
  await env?.close();
});

test("offline: the banner shows, an unsent message is retried once back online", async () => {
  const quinn = await person(env.browser, "quinn");
  const rex = await person(env.browser, "rex");
  try {
    await register(quinn, env.server.url);
    await register(rex, env.server.url);
    await startDm(quinn, rex);
    await sendText(quinn, "before the tunnel");
    await expectMessage(rex, "before the tunnel");
    await bubble(quinn, "before the tunnel").getByLabel("sent").waitFor(WAIT);

    await quinn.context.setOffline(true);
    await quinn.page.getByRole("alert").getByText(/^You are offline/).waitFor({ timeout: 120_000 });
    await sendText(quinn, "written in the tunnel");
    const unsent = bubble(quinn, "written in the tunnel");
    await unsent.getByText("not sent").waitFor({ timeout: 120_000 });
    await shot(quinn, "offline-01-not-sent");

    await quinn.context.setOffline(false);
    await quinn.page.getByRole("alert").getByText(/^You are offline/).waitFor({ state: "detached", timeout: 120_000 });
    await unsent.getByRole("button", { name: "Retry" }).click();
    await expectMessage(rex, "written in the tunnel");
    await unsent.getByLabel("sent").waitFor(WAIT);
    await shot(quinn, "offline-02-retried");
  } catch (err) {
    for (const p of [quinn, rex]) await shot(p, "offline-failed").catch(() => undefined);
    throw err;
  } finally {
    await quinn.context.close();
    await rex.context.close();
  }
});
