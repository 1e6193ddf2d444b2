-- IP blocks made through the admin API (`/_tessera/admin/v1/moderation/ip_blocks`): one row per
-- address or CIDR network in canonical form (`203.0.113.7`, `10.0.0.0/8`). Blocks taken from
-- policy rooms are not stored here: the rooms' state is their record.
CREATE TABLE moderation_ip_blocks (
    network TEXT PRIMARY KEY,
    blocked_at BIGINT NOT NULL,
    expires_at BIGINT,
    reason TEXT NOT NULL,
    source TEXT NOT NULL
);
