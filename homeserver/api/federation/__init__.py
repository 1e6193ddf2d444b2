"""The Server-Server API: one module per endpoint group, routes from `core.federation_endpoints`.

Served only when federation is enabled: on the TLS federation listener (which serves nothing
else, see `listener`) and on the client listener, for a reverse proxy that terminates TLS.
"""
