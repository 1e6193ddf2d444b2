-- Retention (MSC1763 plus the server's policy), self-destructing messages and room lifetimes.
--
-- `retention_progress` holds the positions of the tracker that follows the events stream
-- (`track`, upwards; `track_history`, downwards through backfilled history) and the purge
-- counters (`events_purged`, `media_bytes_freed`).
-- `event_media` lists the mxc:// URIs each event's content names (attachments, thumbnails,
-- encrypted files), so media only purged events referenced can be deleted with them.
-- `event_expiries` holds the self-destruct timer of each message that asked for one:
-- `expires_ts` is when it goes (known at once for `org.matrix.self_destruct_after`, from the
-- first read receipt of someone other than the sender for `org.matrix.self_destruct`).
-- `purged_events` lists events whose content is gone (their JSON is a redacted skeleton).
-- `retention_rooms.purged_upto_ts`: every message of the room sent before it is purged.
-- `media_purge_queue`: media whose last referencing event was purged, deleted after commit
-- (a restart finishes the queue).
-- `room_lifetimes`: rooms the server deletes at `expires_ts` (direct-message rooms), whether
-- members were told (`announced`: the expiry state event; `warned`: the notice), and when the
-- deletion finished (`deleted_ts`).
CREATE TABLE retention_progress (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE event_media (
    event_id TEXT NOT NULL,
    server_name TEXT NOT NULL,
    media_id TEXT NOT NULL,
    PRIMARY KEY (event_id, server_name, media_id)
);
CREATE INDEX event_media_media ON event_media (server_name, media_id);

CREATE TABLE event_expiries (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    sender TEXT NOT NULL,
    after_read_ms BIGINT,
    read_ts BIGINT,
    expires_ts BIGINT
);
CREATE INDEX event_expiries_due ON event_expiries (expires_ts);
CREATE INDEX event_expiries_room ON event_expiries (room_id, stream_ordering);

CREATE TABLE purged_events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    purged_ts BIGINT NOT NULL
);

CREATE TABLE retention_rooms (
    room_id TEXT PRIMARY KEY,
    purged_upto_ts BIGINT NOT NULL
);

CREATE TABLE media_purge_queue (
    server_name TEXT NOT NULL,
    media_id TEXT NOT NULL,
    PRIMARY KEY (server_name, media_id)
);

CREATE TABLE room_lifetimes (
    room_id TEXT PRIMARY KEY,
    expires_ts BIGINT NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0,
    warned INTEGER NOT NULL DEFAULT 0,
    deleted_ts BIGINT
);
CREATE INDEX room_lifetimes_expiry ON room_lifetimes (expires_ts);
