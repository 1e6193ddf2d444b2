-- Federation transactions: the outbound queue, the sender's position, inbound idempotency
-- and remote users' device lists.
--
-- `federation_outbox` is the durable per-destination queue of the transaction sender (the
-- `federation.ports.OutboundQueue` port): one row per PDU or EDU still to be sent to one
-- destination, in `id` order (ids come from the `federation_outbox` stream counter). A row is
-- deleted once a transaction carrying it was accepted. `room_id` is set for PDUs, so a queue
-- that grew too long can be cut down to the latest event of each room (catch-up).
CREATE TABLE federation_outbox (
    id BIGINT PRIMARY KEY,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    room_id TEXT,
    json TEXT NOT NULL,
    queued_ts BIGINT NOT NULL
);

CREATE INDEX federation_outbox_destination ON federation_outbox (destination, kind, id);

-- Positions of the federation consumers of streams (the PDU sender follows `events`).
CREATE TABLE federation_positions (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Inbound transactions already answered, with the answer, per (origin, txn_id).
CREATE TABLE federation_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);

-- Remote users' device lists, as their servers told us (`m.device_list_update`): the last
-- `stream_id` seen per user and whether a gap was detected (`stale` = 1: resync needed).
CREATE TABLE remote_device_list_heads (
    user_id TEXT PRIMARY KEY,
    stream_id BIGINT NOT NULL,
    stale INTEGER NOT NULL
);

CREATE TABLE remote_devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    keys TEXT,
    PRIMARY KEY (user_id, device_id)
);

-- Our users' devices as last announced to other servers (`m.device_list_update`): the
-- `stream_id` of the last update per device; a deleted device keeps its row (`deleted` = 1)
-- so the user's stream IDs keep increasing and `prev_id` can name it.
CREATE TABLE device_list_announcements (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
