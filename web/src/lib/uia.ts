/**
 * User-interactive authentication for registration: pick a flow the client can complete and
 * walk its stages. Supported stages: `m.login.dummy` and `m.login.registration_token`.
 */

export const DUMMY = "m.login.dummy";
export const TOKEN = "m.login.registration_token";
const SUPPORTED = new Set([DUMMY, TOKEN]);

export interface UiaFlow {
  stages: string[];
}

export interface UiaResponse {
  flows?: UiaFlow[];
  completed?: string[];
  session?: string;
}

/**
 * The flow to follow: the shortest one made only of supported stages, preferring one without a
 * token when the person has none; undefined when no flow can be completed here.
 */
export function chooseFlow(flows: UiaFlow[], haveToken: boolean): UiaFlow | undefined {
  const usable = flows.filter((f) => f.stages.every((s) => SUPPORTED.has(s)));
  const ranked = usable
    .filter((f) => haveToken || !f.stages.includes(TOKEN))
    .sort((a, b) => a.stages.length - b.stages.length);
  return ranked[0] ?? usable.sort((a, b) => a.stages.length - b.stages.length)[0];
}

/** The first stage of `flow` not yet completed, or undefined when all are. */
export function nextStage(flow: UiaFlow, completed: string[] = []): string | undefined {
  return flow.stages.find((s) => !completed.includes(s));
}

/** The `auth` dict that completes `stage`. */
export function authFor(stage: string, session: string | undefined, token: string): Record<string, unknown> {
  const auth: Record<string, unknown> = { type: stage };
  if (session !== undefined) auth.session = session;
  if (stage === TOKEN) auth.token = token;
  return auth;
}
