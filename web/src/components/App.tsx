/** The app shell: resume a saved session, or show sign-in; then the chat. */

import type { MatrixClient } from "matrix-js-sdk";
import { useCallback, useEffect, useState } from "react";
import { errorSentence } from "../lib/errors";
import { signOut, startClient } from "../matrix/client";
import { setUpCrossSigning } from "../matrix/security";
import { loadSession, saveSession, type Session } from "../matrix/session";
import { AuthScreen } from "./AuthScreen";
import { ChatScreen } from "./ChatScreen";
import { ToastProvider } from "./Toasts";

type State = { kind: "loading"; text: string } | { kind: "signedOut"; error?: string } | { kind: "ready"; client: MatrixClient };

export function App() {
  const [state, setState] = useState<State>({ kind: "loading", text: "Opening Tessera…" });

  const open = useCallback(async (session: Session, password?: string) => {
    setState({ kind: "loading", text: password ? "Creating your encryption keys…" : "Loading your chats…" });
    try {
      if (password) await saveSession(session);
      const client = await startClient(session);
      // Cross-signing at the first sign-in of the account; failures leave it to the Security panel.
      if (password) await setUpCrossSigning(client, password).catch(() => false);
      setState({ kind: "ready", client });
    } catch (err) {
      setState({ kind: "signedOut", error: errorSentence(err, "open your session") });
    }
  }, []);

  useEffect(() => {
    loadSession()
      .then((session) => (session ? open(session) : setState({ kind: "signedOut" })))
      .catch(() => setState({ kind: "signedOut", error: "This browser blocks local storage, which Tessera needs to keep your keys." }));
  }, [open]);

  const leave = useCallback(async (client: MatrixClient) => {
    setState({ kind: "loading", text: "Signing out…" });
    await signOut(client);
    setState({ kind: "signedOut" });
  }, []);

  return (
    <ToastProvider>
      {state.kind === "loading" && (
        <main className="flex h-full items-center justify-center" aria-busy="true">
          <p className="text-slate-500 dark:text-slate-400">{state.text}</p>
        </main>
      )}
      {state.kind === "signedOut" && <AuthScreen initialError={state.error} onSession={(s, password) => void open(s, password)} />}
      {state.kind === "ready" && <ChatScreen client={state.client} onSignOut={() => void leave(state.client)} />}
    </ToastProvider>
  );
}
