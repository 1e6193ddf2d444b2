-- OpenID tokens a user hands to a third party (client-server "OpenID"), which asks our
-- federation listener whose they are (`/openid/userinfo`). Only the SHA-256 of the secret is
-- kept, with its expiry; expired tokens are deleted as new ones are written.
CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ts BIGINT NOT NULL
);
CREATE INDEX openid_tokens_user ON openid_tokens (user_id, expires_ts);

-- `timestamp_to_event`: a room's events by the time their origin gave them.
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
