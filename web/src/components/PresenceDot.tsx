/** A coloured dot for a person's presence, labelled in words. */

import type { MatrixClient } from "matrix-js-sdk";
import { presenceLabel } from "../lib/format";

export function PresenceDot({ client, userId }: { client: MatrixClient; userId: string }) {
  const user = client.getUser(userId);
  const presence = user?.presence;
  const label = presenceLabel(presence, user?.lastActiveAgo);
  const colour = presence === "online" ? "bg-emerald-500" : presence === "unavailable" ? "bg-amber-500" : "bg-slate-400";
  return <span role="img" aria-label={label} title={label} className={`inline-block h-2.5 w-2.5 shrink-0 rounded-full ${colour}`} />;
}
