"""Moderation: request telemetry, the IP blocklist, and the policy lists the server follows.

- `telemetry` — one record per client request in a bounded ring buffer, long-polled by admins;
- `signals`, `fingerprint` — what a request meant (logins and their targets, registrations,
  invites, joins, messages with link counts and near-duplicate fingerprints), never bodies;
- `summaries` — per-IP and per-user summaries of the buffer;
- `ip_blocks` — addresses and CIDR networks refused on every endpoint, with expiry;
- `policy`, `policy_rooms` — ban rules of followed policy rooms (users, rooms, servers, IPs);
- `service` — the admin API's answers and the checks the HTTP layer runs before routing.
"""
