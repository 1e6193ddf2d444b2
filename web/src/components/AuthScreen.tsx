/** Sign in or create an account on the homeserver that served this page. */

import { type FormEvent, useState } from "react";
import { errorSentence } from "../lib/errors";
import { login, register } from "../matrix/auth";
import type { Session } from "../matrix/session";

const input =
  "w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-base dark:border-slate-600 dark:bg-slate-800";

export function AuthScreen({ onSession, initialError }: { onSession: (s: Session, password: string) => void; initialError?: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState(initialError ?? "");
  const [busy, setBusy] = useState(false);
  const baseUrl = window.location.origin;

  async function submit(mode: "login" | "register", e?: FormEvent): Promise<void> {
    e?.preventDefault();
    if (!username.trim() || !password) {
      setError("Enter a username and a password.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      const session =
        mode === "login" ? await login(baseUrl, username, password) : await register(baseUrl, username, password, token);
      onSession(session, password);
    } catch (err) {
      setError(errorSentence(err, mode === "login" ? "sign in" : "create the account"));
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-full items-center justify-center p-4">
      <form onSubmit={(e) => void submit("login", e)} className="w-full max-w-sm space-y-4" aria-describedby="auth-help">
        <h1 className="text-2xl font-semibold">Tessera</h1>
        <p id="auth-help" className="text-sm text-slate-600 dark:text-slate-400">
          Private chat on <strong>{window.location.host}</strong>. Messages and files are end-to-end encrypted; your keys
          are made in this browser.
        </p>
        <label className="block space-y-1">
          <span className="text-sm font-medium">Username</span>
          <input className={input} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" autoCapitalize="none" />
        </label>
        <label className="block space-y-1">
          <span className="text-sm font-medium">Password</span>
          <input className={input} type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />
        </label>
        <label className="block space-y-1">
          <span className="text-sm font-medium">Registration token</span>
          <span className="block text-xs text-slate-500 dark:text-slate-400">Only if the server asks for one to create an account.</span>
          <input className={input} value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" />
        </label>
        {error && (
          <p role="alert" className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700 dark:bg-rose-950 dark:text-rose-200">
            {error}
          </p>
        )}
        <div className="flex gap-2">
          <button type="submit" disabled={busy} className="flex-1 rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-60">
            Sign in
          </button>
          <button type="button" disabled={busy} onClick={() => void submit("register")} className="flex-1 rounded-lg border border-indigo-600 px-4 py-2 font-medium text-indigo-700 hover:bg-indigo-50 disabled:opacity-60 dark:text-indigo-300 dark:hover:bg-slate-800">
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}
