/**
 * A coloured dot for a person's presence, labelled in words. When no presence event for them
 * has arrived through /sync (the server sends presence only when it changes, so someone who was
 * already online when the room was shared stays unknown), it asks GET /presence once.
 */

import type { MatrixClient } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { presenceLabel } from "../lib/format";

interface Known {
  presence?: string;
  lastActiveAgo?: number;
}

export function PresenceDot({ client, userId }: { client: MatrixClient; userId: string }) {
  const user = client.getUser(userId);
  const synced = (user?.lastPresenceTs ?? 0) > 0;
  const [asked, setAsked] = useState<Known | undefined>();
  useEffect(() => {
    if (synced) return;
    let live = true;
    client.getPresence(userId).then(
      (r) => live && setAsked({ presence: r.presence, lastActiveAgo: r.last_active_ago }),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, userId, synced]);
  const known: Known = synced || !asked ? { presence: user?.presence, lastActiveAgo: user?.lastActiveAgo } : asked;
  const label = presenceLabel(known.presence, known.lastActiveAgo);
  const colour = known.presence === "online" ? "bg-emerald-500" : known.presence === "unavailable" ? "bg-amber-500" : "bg-slate-400";
  return <span role="img" aria-label={label} title={label} className={`inline-block h-2.5 w-2.5 shrink-0 rounded-full ${colour}`} />;
}
