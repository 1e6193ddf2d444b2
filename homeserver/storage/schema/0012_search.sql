-- Full-text search over room events (spec: "Server Side Search").
--
-- The index holds search terms only, never the text: `search_fts` is a contentless FTS5 table
-- (`content=''`) whose rowid is the event's stream ordering; the terms come ready-made from
-- `core.search_text`, sorted (so the index keeps no word order), and the `ascii` tokenizer
-- only splits them at spaces. Result bodies and
-- highlights are read from the events themselves. A contentless table forgets its input, so a
-- document is removed with FTS5's 'delete' command given the same terms again, computed from
-- the event; `search_entries` says which events are in the index, their room and which key
-- their text came from (0 body, 1 name, 2 topic: what the query filters on without reading
-- events) and how many terms each has (checked before such a delete). An entry whose terms can no longer be computed (its
-- event was pruned first) is listed in `search_orphans` until the index is rebuilt.
-- `search_progress` records how far the indexer has followed the events stream (`search`,
-- upwards) and the history placed below it (`search_history`, downwards).
CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='', tokenize='ascii');

CREATE TABLE search_entries (
    stream_ordering INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    kind INTEGER NOT NULL,
    term_count INTEGER NOT NULL
);

CREATE TABLE search_orphans (
    stream_ordering BIGINT PRIMARY KEY
);

CREATE TABLE search_progress (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
