/** Trust hooks: whether a person is verified, and what a message's encryption says. */

import type { MatrixClient, MatrixEvent } from "matrix-js-sdk";
import { useEffect, useState } from "react";
import { messageTrust, type MessageTrust } from "../lib/trust";

/** True once `userId`'s identity is verified by cross-signing; re-checked on every `tick`. */
export function useUserVerified(client: MatrixClient, userId: string | undefined, tick: number): boolean {
  const [verified, setVerified] = useState(false);
  useEffect(() => {
    let live = true;
    const crypto = client.getCrypto();
    if (!crypto || !userId) return;
    crypto.getUserVerificationStatus(userId).then(
      (s) => live && setVerified(s.isCrossSigningVerified()),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, userId, tick]);
  return verified;
}

/** The trust badge of an encrypted message (undefined: nothing to say). */
export function useMessageTrust(client: MatrixClient, event: MatrixEvent, tick: number): MessageTrust {
  const [trust, setTrust] = useState<MessageTrust>();
  const sender = event.getSender();
  const ready = event.isEncrypted() && !event.isDecryptionFailure() && !event.isBeingDecrypted() && event.getId()?.startsWith("$");
  useEffect(() => {
    let live = true;
    const crypto = client.getCrypto();
    if (!crypto || !ready || !sender) return;
    void (async () => {
      const info = await crypto.getEncryptionInfoForEvent(event);
      const verified = (await crypto.getUserVerificationStatus(sender)).isCrossSigningVerified();
      if (live && info) setTrust(messageTrust(info.shieldReason, verified));
    })().catch(() => undefined);
    return () => {
      live = false;
    };
  }, [client, event, sender, ready, tick]);
  return trust;
}
