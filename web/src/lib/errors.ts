/**
 * Errors as sentences: whatever failed, the person reads a plain sentence, never a stack trace.
 */

const BY_ERRCODE: Record<string, string> = {
  M_FORBIDDEN: "You are not allowed to do that.",
  M_USER_IN_USE: "That username is taken. Try another one.",
  M_INVALID_USERNAME: "Usernames may use lowercase letters, digits and . _ = - / only.",
  M_EXCLUSIVE: "That username is reserved.",
  M_WEAK_PASSWORD: "That password is too weak. Use a longer one.",
  M_LIMIT_EXCEEDED: "Too many attempts. Wait a moment and try again.",
  M_TOO_LARGE: "That file is larger than this server accepts.",
  M_NOT_FOUND: "That could not be found.",
  M_UNKNOWN_TOKEN: "Your session has ended. Sign in again.",
  M_MISSING_TOKEN: "Your session has ended. Sign in again.",
  M_USER_DEACTIVATED: "This account has been deactivated.",
  M_REGISTRATION_DISABLED: "This server does not allow new accounts.",
  M_UNAUTHORIZED: "The registration token was not accepted.",
  M_RESOURCE_LIMIT_EXCEEDED: "The server has reached a limit. Try again later.",
  M_BAD_JSON: "The server could not understand the request.",
  M_INVALID_PARAM: "Something in the request was not valid.",
  M_ROOM_IN_USE: "A room with that address already exists.",
};

/** An error whose message is already a sentence for people (shown as is). */
export class Sentence extends Error {
  override name = "Sentence";
}

interface ErrorLike {
  errcode?: unknown;
  data?: { errcode?: unknown; error?: unknown };
  httpStatus?: unknown;
  name?: unknown;
  message?: unknown;
}

/** The errcode of a Matrix error (matrix-js-sdk's MatrixError or a raw error body), if any. */
export function errcodeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as ErrorLike;
  if (typeof e.errcode === "string") return e.errcode;
  if (typeof e.data?.errcode === "string") return e.data.errcode;
  return undefined;
}

/**
 * A sentence saying what went wrong, for a toast or a form.
 *
 * @param err - anything thrown or rejected.
 * @param action - what was being done, e.g. "send the message"; used when nothing more is known.
 */
export function errorSentence(err: unknown, action = "do that"): string {
  if (err instanceof Sentence) return err.message;
  const code = errcodeOf(err);
  if (code === "M_FORBIDDEN" && /password|login|credentials/i.test(serverText(err))) {
    return "The username or password is wrong.";
  }
  if (code !== undefined && BY_ERRCODE[code] !== undefined) return BY_ERRCODE[code];
  const text = serverText(err);
  if (code !== undefined && text) return sentence(text);
  if (isNetworkError(err)) return "The server cannot be reached. Check your connection; we will retry.";
  return `Could not ${action}. Please try again.`;
}

function serverText(err: unknown): string {
  if (typeof err !== "object" || err === null) return "";
  const e = err as ErrorLike;
  if (typeof e.data?.error === "string") return e.data.error;
  return "";
}

/** True for a failure to reach the server at all (offline, connection refused, aborted). */
export function isNetworkError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as ErrorLike;
  return e.name === "ConnectionError" || e.name === "TypeError" || e.name === "AbortError";
}

/** `text` with a capital first letter and a final full stop. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
