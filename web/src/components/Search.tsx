/** Search messages across your rooms; a result opens its room. */

import type { MatrixClient } from "matrix-js-sdk";
import { type FormEvent, useState } from "react";
import { errorSentence } from "../lib/errors";
import { formatClock, localpart } from "../lib/format";
import { type SearchEntry, snippet } from "../lib/search";
import { searchMessages, type SearchSource } from "../matrix/search";
import type { SearchIndexer } from "../matrix/searchIndexer";
import { buttonClass, fieldClass, Panel } from "./Panel";
import { useToast } from "./Toasts";

const SOURCE_TEXT: Record<SearchSource, string> = {
  server: "Chats that are not encrypted were searched by your server, encrypted ones here.",
  "encrypted-only": "All your chats are encrypted: they were searched here.",
  "no-server": "Your server did not search, so every chat was searched here.",
};

interface Props {
  client: MatrixClient;
  indexer: SearchIndexer | undefined;
  onOpen: (roomId: string) => void;
  onClose: () => void;
}

export function Search({ client, indexer, onOpen, onClose }: Props) {
  const toast = useToast();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<SearchEntry[] | undefined>();
  const [asked, setAsked] = useState("");
  const [source, setSource] = useState<SearchSource>();

  async function run(e: FormEvent): Promise<void> {
    e.preventDefault();
    if (!query.trim()) return;
    try {
      const found = await searchMessages(client, query, indexer);
      setResults(found.results);
      setSource(found.source);
      setAsked(query);
    } catch (err) {
      toast(errorSentence(err, "search"), "error");
    }
  }

  return (
    <Panel title="Search messages" onClose={onClose}>
      <form role="search" onSubmit={(e) => void run(e)} className="flex gap-2">
        <input aria-label="Search messages" className={fieldClass} value={query} onChange={(e) => setQuery(e.target.value)} autoFocus />
        <button type="submit" className={buttonClass}>Search</button>
      </form>
      <p className="text-xs text-slate-500 dark:text-slate-400">
        Encrypted chats are searched here in your browser, in the messages it has received and decrypted (kept in this browser until you sign out); the server never sees what you look for there.
      </p>
      {source && <p className="text-xs text-slate-500 dark:text-slate-400">{SOURCE_TEXT[source]}</p>}
      {results && (
        <ul aria-label="Search results" className="divide-y divide-slate-200 dark:divide-slate-700">
          {results.length === 0 && <li className="py-2 text-sm">Nothing found for “{asked}”.</li>}
          {results.map((r) => (
            <li key={r.eventId}>
              <button type="button" className="block w-full py-2 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-700" onClick={() => { onOpen(r.roomId); onClose(); }}>
                <span className="block text-xs text-slate-500 dark:text-slate-400">
                  {client.getRoom(r.roomId)?.name ?? r.roomId} · {client.getRoom(r.roomId)?.getMember(r.sender)?.name ?? localpart(r.sender)} · {new Date(r.ts).toLocaleDateString()} {formatClock(r.ts)}
                </span>
                {snippet(r.body, asked)}
              </button>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
