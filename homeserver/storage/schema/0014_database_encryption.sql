-- Encryption at rest for the database (storage/sealing.py, storage/at_rest.py).
--
-- `database_encryption` holds at most one row (id 1): the ID of the master key the database is
-- sealed with and a value sealed under that key, so that starting with another key (or none)
-- stops with a clear error instead of skipping every row. `unsealed_rows` is 1 while rows
-- written in plaintext may remain (before encryption was on, or while it was off); the start-up
-- pass (storage/reseal.py) seals them and sets it to 0.
CREATE TABLE database_encryption (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    check_value TEXT NOT NULL,
    unsealed_rows INTEGER NOT NULL
);

-- The room directory's summary becomes a table kept by the event writer together with
-- `current_state` (storage/rooms/summary.py): the view it replaces read fields out of event
-- JSON with SQL, which sealed JSON no longer allows. The free-text fields (name, topic,
-- canonical_alias, avatar_url) are sealed; the rest are the identifiers the directory
-- filters on in SQL. Filled here from the view, then the view goes.
CREATE TABLE room_summary (
    room_id TEXT PRIMARY KEY,
    name TEXT,
    topic TEXT,
    canonical_alias TEXT,
    avatar_url TEXT,
    join_rule TEXT,
    history_visibility TEXT,
    guest_access TEXT,
    room_type TEXT
);

INSERT INTO room_summary (room_id, name, topic, canonical_alias, avatar_url, join_rule,
    history_visibility, guest_access, room_type)
SELECT room_id, name, topic, canonical_alias, avatar_url, join_rule, history_visibility,
    guest_access, room_type
FROM room_state_summary;

DROP VIEW room_state_summary;
