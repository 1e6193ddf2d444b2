/** An object URL for a blob loaded asynchronously, revoked when it is no longer shown. */

import { useEffect, useState } from "react";

/** An object URL for the blob `load` gives (revoked when done); undefined meanwhile, without a
 * loader, or when it gives nothing or fails. Loads again only when `deps` change. */
export function useBlobUrl(load: (() => Promise<Blob | undefined>) | undefined, deps: unknown[]): string | undefined {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!load) return;
    let live = true;
    let made: string | undefined;
    load().then(
      (blob) => {
        if (blob && live) setUrl((made = URL.createObjectURL(blob)));
      },
      () => undefined,
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
    // Re-run only when the caller's `deps` change.
  }, deps);
  return url;
}
