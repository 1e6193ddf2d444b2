-- Federation: remote servers' keys.
--
-- `server_verify_keys` is the keyring's durable cache (the `federation.ports.KeyStore` port):
-- one row per (server, key ID) with the public key (unpadded Base64), until when signatures
-- made with it may be trusted, and who vouched for it. A key stored again keeps the larger
-- `valid_until_ts`.
-- `server_key_documents` keeps the latest verified key document of each remote server exactly
-- as received, so this server can answer notary queries (`/_matrix/key/v2/query`) for it even
-- while the server itself is unreachable.
CREATE TABLE server_verify_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    verify_key TEXT NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    fetched_from TEXT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

CREATE TABLE server_key_documents (
    server_name TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL
);
