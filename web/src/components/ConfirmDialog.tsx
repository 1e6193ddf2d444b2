/** A yes/no question in a native modal <dialog> (focus trapped, Escape cancels). */

import { useEffect, useRef } from "react";

interface Props {
  title: string;
  text: string;
  confirm: string;
  danger?: boolean;
  onConfirm: () => void;
  onClose: () => void;
}

export function ConfirmDialog({ title, text, confirm, danger, onConfirm, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title} className="m-auto w-[min(24rem,92vw)] rounded-xl bg-white p-4 text-slate-900 shadow-xl backdrop:bg-black/40 dark:bg-slate-800 dark:text-slate-100">
      <h2 className="text-lg font-semibold">{title}</h2>
      <p className="mt-2 text-sm">{text}</p>
      <div className="mt-4 flex justify-end gap-2">
        <button type="button" autoFocus onClick={onClose} className="rounded-lg px-3 py-2 text-sm">Cancel</button>
        <button
          type="button"
          onClick={() => {
            onConfirm();
            onClose();
          }}
          className={`rounded-lg px-3 py-2 text-sm font-medium text-white ${danger ? "bg-rose-600" : "bg-indigo-600"}`}
        >
          {confirm}
        </button>
      </div>
    </dialog>
  );
}
