"""The Matrix server-server protocol as a library.

- `x_matrix`: X-Matrix request signing and checking.
- `discovery`, `well_known`: where a server name's requests go (spec "Resolving server names").
- `ip_policy`: which addresses outbound requests may reach.
- `client`: the outbound federation client (TLS, signing, retries, strict JSON).
- `server_keys`, `keyring`: our key document; remote keys fetched, verified and cached.
- `sender`: outbound transactions from a durable queue per destination, with backoff.
- `ports`: what the host (the homeserver) provides: key storage, the outbound queue, a clock.

It never imports `homeserver`; the homeserver implements `ports` and wires the pieces.
"""
