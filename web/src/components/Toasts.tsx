/** Toasts: one short sentence for the outcome of every action, announced to screen readers. */

import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";

type Kind = "success" | "error" | "info";
interface Toast {
  id: number;
  kind: Kind;
  text: string;
}
type Notify = (text: string, kind?: Kind) => void;

const ToastContext = createContext<Notify>(() => undefined);

/** The function that shows a toast. */
export function useToast(): Notify {
  return useContext(ToastContext);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const notify = useCallback<Notify>((text, kind = "info") => {
    const id = Date.now() + Math.random();
    setToasts((all) => [...all.slice(-3), { id, kind, text }]);
    setTimeout(() => setToasts((all) => all.filter((t) => t.id !== id)), kind === "error" ? 8000 : 4000);
  }, []);
  const value = useMemo(() => notify, [notify]);
  const colour: Record<Kind, string> = {
    success: "bg-emerald-700",
    error: "bg-rose-700",
    info: "bg-slate-700",
  };
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div role="status" aria-live="polite" className="pointer-events-none fixed inset-x-0 bottom-20 z-50 flex flex-col items-center gap-2 px-3">
        {toasts.map((t) => (
          <div key={t.id} data-kind={t.kind} className={`pointer-events-auto max-w-sm rounded-lg px-4 py-2 text-sm text-white shadow-lg ${colour[t.kind]}`}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
