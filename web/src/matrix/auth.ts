/** Sign-in and registration over the public Client-Server API (with UIA for registration). */

import { authFor, chooseFlow, nextStage, type UiaResponse } from "../lib/uia";
import type { Session } from "./session";

const DEVICE_NAME = "Tessera web";

/** An error body from the server, thrown as is so `errorSentence` can word it. */
export class ServerError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly data: { errcode?: string; error?: string },
  ) {
    super(data.error ?? `HTTP ${httpStatus}`);
    this.name = "ServerError";
  }
}

async function post(baseUrl: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const resp = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: resp.status, json };
}

function toSession(baseUrl: string, json: Record<string, unknown>): Session {
  const { user_id, device_id, access_token } = json;
  if (typeof user_id !== "string" || typeof device_id !== "string" || typeof access_token !== "string") {
    throw new ServerError(500, { error: "The server's answer was incomplete" });
  }
  return { baseUrl, userId: user_id, deviceId: device_id, accessToken: access_token };
}

/** Sign in with a username (or user ID) and password. */
export async function login(baseUrl: string, username: string, password: string): Promise<Session> {
  const { status, json } = await post(baseUrl, "/_matrix/client/v3/login", {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: username.trim() },
    password,
    initial_device_display_name: DEVICE_NAME,
  });
  if (status !== 200) throw new ServerError(status, json);
  return toSession(baseUrl, json);
}

/** Create an account, completing the server's user-interactive auth (dummy, token). */
export async function register(baseUrl: string, username: string, password: string, token: string): Promise<Session> {
  const request: Record<string, unknown> = {
    username: username.trim(),
    password,
    initial_device_display_name: DEVICE_NAME,
  };
  let { status, json } = await post(baseUrl, "/_matrix/client/v3/register", request);
  for (let round = 0; status === 401 && round < 4; round += 1) {
    const uia = json as UiaResponse;
    const flow = chooseFlow(uia.flows ?? [], token.trim() !== "");
    const stage = flow && nextStage(flow, uia.completed);
    if (!stage) throw new ServerError(401, { errcode: "M_FORBIDDEN", error: "This server asks for a sign-up step this app cannot do" });
    if (stage === "m.login.registration_token" && !token.trim()) {
      throw new ServerError(401, { errcode: "M_MISSING_PARAM", error: "This server needs a registration token to create an account" });
    }
    ({ status, json } = await post(baseUrl, "/_matrix/client/v3/register", {
      ...request,
      auth: authFor(stage, uia.session, token.trim()),
    }));
  }
  if (status !== 200) throw new ServerError(status, json);
  return toSession(baseUrl, json);
}
