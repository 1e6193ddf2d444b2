/**
 * Room retention for the banner: the room's `m.room.retention` state, else the server's default
 * from its retention configuration endpoint (asked once per client; a server without it answers
 * 404 and the banner stays off).
 */

import type { MatrixClient, Room } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { retentionText } from "../lib/relations";
import { authedGet } from "./http";

const CONFIG_PATH = "/_matrix/client/unstable/org.matrix.msc1763/retention/configuration";
const defaults = new WeakMap<MatrixClient, Promise<number | undefined>>();

function serverDefault(client: MatrixClient): Promise<number | undefined> {
  let known = defaults.get(client);
  if (!known) {
    known = authedGet(client, CONFIG_PATH)
      .then(async (resp) => {
        if (!resp.ok) return undefined;
        const body = (await resp.json()) as { policies?: { default?: { max_lifetime?: unknown } }; default_policy?: { max_lifetime?: unknown } };
        const ms = body.policies?.default?.max_lifetime ?? body.default_policy?.max_lifetime;
        return typeof ms === "number" ? ms : undefined;
      })
      .catch(() => undefined);
    defaults.set(client, known);
  }
  return known;
}

/** The retention banner text for `room` ("" when messages are kept). */
export function useRetentionText(client: MatrixClient, room: Room, tick: number): string {
  const own = room.currentState.getStateEvents("m.room.retention", "")?.getContent().max_lifetime;
  const [fallback, setFallback] = useState<number | undefined>();
  useEffect(() => {
    let live = true;
    void serverDefault(client).then((ms) => live && setFallback(ms));
    return () => {
      live = false;
    };
  }, [client, tick]);
  return retentionText(own ?? fallback);
}
