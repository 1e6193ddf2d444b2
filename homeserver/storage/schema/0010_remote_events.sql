-- Events from other servers that are not part of a room's timeline.
--
-- `event_outliers` holds, by event ID: the state and auth chain a join brought (`outlier`),
-- events refused on receipt (`rejected`, with the reason; never used as auth or state) and
-- events that passed their own auth but failed against the room's current state
-- (`soft_failed`, with the state group after them so later events may build on them).
-- Accepted events of the timeline stay in `events` alone.
-- `rooms.state_group` is the group of the room's resolved current state while its forward
-- extremities fork (a room with one extremity uses that event's group).
CREATE TABLE event_outliers (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    state_group BIGINT,
    json TEXT NOT NULL,
    received_ts BIGINT NOT NULL
);
CREATE INDEX event_outliers_room ON event_outliers (room_id);

ALTER TABLE rooms ADD COLUMN state_group BIGINT;
