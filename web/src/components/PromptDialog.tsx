/** A small modal form (native <dialog>, so focus and Escape behave). */

import { type FormEvent, useEffect, useRef, useState } from "react";

interface Field {
  label: string;
  name: string;
  optional?: boolean;
  type?: "text" | "password";
  initial?: string;
}

interface Props {
  title: string;
  fields: Field[];
  submit: string;
  onSubmit: (values: Record<string, string>) => void;
  onClose: () => void;
}

export function PromptDialog({ title, fields, submit, onSubmit, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.name, f.initial ?? ""])));
  const [error, setError] = useState("");

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  function done(e: FormEvent): void {
    e.preventDefault();
    const missing = fields.find((f) => !f.optional && !(values[f.name] ?? "").trim());
    if (missing) {
      setError(`Enter the ${missing.label.toLowerCase()}.`);
      return;
    }
    onSubmit(values);
    onClose();
  }

  return (
    <dialog ref={ref} onClose={onClose} aria-label={title} className="m-auto w-[min(24rem,92vw)] rounded-xl bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:bg-slate-800 dark:text-slate-100">
      <form onSubmit={done} className="space-y-3 p-4">
        <h2 className="text-lg font-semibold">{title}</h2>
        {fields.map((f, i) => (
          <label key={f.name} className="block space-y-1">
            <span className="text-sm">{f.label}</span>
            <input autoFocus={i === 0} type={f.type ?? "text"} autoComplete={f.type === "password" ? "current-password" : "off"} value={values[f.name] ?? ""} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} className="w-full rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-600 dark:bg-slate-900" />
          </label>
        ))}
        {error && <p role="alert" className="text-sm text-rose-600">{error}</p>}
        <div className="flex justify-end gap-2">
          <button type="button" onClick={onClose} className="rounded-lg px-3 py-2 text-sm">Cancel</button>
          <button type="submit" className="rounded-lg bg-indigo-600 px-3 py-2 text-sm font-medium text-white">{submit}</button>
        </div>
      </form>
    </dialog>
  );
}
