/**
 * Trust shown on messages: what an encrypted message's shield means, in words. Codes follow the
 * crypto library's shield reasons; an unverified person is not flagged on every message (their
 * name shows it), only a problem with the sending device is.
 */

export type MessageTrust = { kind: "verified" | "warning"; text: string } | undefined;

const WARNINGS: Record<number, string> = {
  2: "Sent from a device its owner has not verified.",
  3: "Sent from a device that is unknown or has been deleted.",
  4: "The authenticity of this message cannot be guaranteed on this device.",
  5: "The sender's key does not match the device that sent it.",
  7: "The sender's identity has changed since you verified them.",
};

/**
 * @param shieldReason - the crypto library's reason code, or null for no shield.
 * @param senderVerified - the sender's identity is cross-signing verified by us.
 */
export function messageTrust(shieldReason: number | null, senderVerified: boolean): MessageTrust {
  if (shieldReason !== null && WARNINGS[shieldReason]) return { kind: "warning", text: WARNINGS[shieldReason] };
  if (shieldReason === null && senderVerified) return { kind: "verified", text: "From a verified device of a verified person." };
  return undefined;
}

/** The phase of a verification request in words, for its dialog. */
export function verificationStep(phase: number, initiatedByMe: boolean, other: string): string {
  switch (phase) {
    case 1:
    case 2:
      return initiatedByMe ? `Waiting for ${other} to accept…` : `${other} wants to verify with you.`;
    case 3:
      return initiatedByMe ? "Starting…" : `Waiting for ${other}…`;
    case 4:
      return "Compare these emoji with the other screen, in the same order.";
    case 5:
      return "Verification was cancelled.";
    default:
      return `${other} is verified.`;
  }
}
