-- Full-text search over room events (spec: "Server Side Search").
--
-- The index holds search terms only, never the text: `search_fts` keeps one `tsvector` per
-- event (keyed by its stream ordering) under a GIN index, built from the terms
-- `core.search_text` computes (so both backends match the same words), sorted (so the index
-- keeps no word order), with the room and key of its entry beside it (so matching needs no
-- join). Result bodies and highlights are read from the events themselves. `search_entries`
-- says which events are in the index, their room and which key their text came from (0 body,
-- 1 name, 2 topic: what the query filters on without reading events) and how many terms each
-- has; `search_orphans` is only ever filled on SQLite (see `0012_search.sql`).
-- `search_progress` records how far the indexer has followed the events stream (`search`,
-- upwards) and the history placed below it (`search_history`, downwards).
CREATE TABLE search_fts (
    rowid BIGINT PRIMARY KEY,
    terms TSVECTOR NOT NULL,
    room_id TEXT NOT NULL,
    kind SMALLINT NOT NULL
);
CREATE INDEX search_fts_terms ON search_fts USING GIN (terms);

CREATE TABLE search_entries (
    stream_ordering BIGINT PRIMARY KEY,
    room_id TEXT NOT NULL,
    kind SMALLINT NOT NULL,
    term_count INTEGER NOT NULL
);

CREATE TABLE search_orphans (
    stream_ordering BIGINT PRIMARY KEY
);

CREATE TABLE search_progress (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
