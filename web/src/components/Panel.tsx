/** A larger modal panel (native <dialog>): a title bar with Close, scrolling content. */

import { type ReactNode, useEffect, useRef } from "react";

export function Panel({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title} className="m-auto max-h-[92vh] w-[min(36rem,96vw)] rounded-xl bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:bg-slate-800 dark:text-slate-100">
      <div className="sticky top-0 flex items-center gap-2 border-b border-slate-200 bg-inherit px-4 py-3 dark:border-slate-700">
        <h2 className="flex-1 text-lg font-semibold">{title}</h2>
        <button type="button" onClick={onClose} className="rounded px-2 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-700">Close</button>
      </div>
      <div className="space-y-5 p-4">{children}</div>
    </dialog>
  );
}

export const fieldClass = "w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-600 dark:bg-slate-900";
export const buttonClass = "rounded-lg bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-60";
export const plainButtonClass = "rounded border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100 disabled:opacity-60 dark:border-slate-600 dark:hover:bg-slate-700";
