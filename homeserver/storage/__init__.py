"""Persistence: a `Database` abstraction with SQLite and PostgreSQL backends, and one store per area.

Identifiers: store methods take and return `core.identifiers` types (`UserId`, `RoomId`,
`EventId`, `DeviceId`). Values read back from our own tables are wrapped with the `NewType`
constructor (`RoomId(row["room_id"])`) without being parsed again: only validated identifiers
are ever written, so the database is a trusted boundary. Untrusted strings (request paths and
bodies) are parsed by the API layer before they reach a service or a store.
"""
