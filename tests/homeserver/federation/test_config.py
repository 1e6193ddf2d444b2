"""The `federation:` configuration: bad values stop start-up with one line naming the key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import yaml

from core.federation_endpoints import FEDERATION_ENDPOINTS
from homeserver.__main__ import main
from homeserver.config import Config
from homeserver.config_loader import load_config
from tests.conftest import make_config, serving
from tests.federation.tls import TestCA


def _serve_error(
    tmp_path: Path, federation: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> str:
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({"federation": {"enabled": True, **federation}}))
    assert main(["serve", "--config", str(path), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_bad_federation_values_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = TestCA(tmp_path / "ca")
    good = ca.issue("hs.test")
    other = ca.issue("other.test")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    cases: dict[str, dict[str, object]] = {
        "federation.tls_certificate_path: file not found": {
            "tls_certificate_path": str(tmp_path / "missing.pem"),
            "tls_private_key_path": str(good.key_path),
        },
        "federation.tls_private_key_path: not an unencrypted PEM private key": {
            "tls_certificate_path": str(good.cert_path),
            "tls_private_key_path": str(junk),
        },
        "federation.tls_private_key_path: does not match the certificate": {
            "tls_certificate_path": str(good.cert_path),
            "tls_private_key_path": str(other.key_path),
        },
        "federation.tls_private_key_path: tls_certificate_path and tls_private_key_path": {
            "tls_certificate_path": str(good.cert_path),
        },
        "federation.ip_range_denylist[1]: invalid IP range": {
            "ip_range_denylist": ["10.0.0.0/8", "10.0.0.0/33"],
        },
        "federation.ca_certificates_path: not a PEM bundle": {"ca_certificates_path": str(junk)},
        "federation.resolve_overrides: each server name must map to host:port": {
            "resolve_overrides": {"hs2.test": "127.0.0.1"},
        },
        "federation.trusted_key_servers[0].server_name: required": {
            "trusted_key_servers": [{"verify_keys": {}}],
        },
    }
    for expected, federation in cases.items():
        assert _serve_error(tmp_path, federation, capsys).startswith(f"config: {expected}")


def test_a_good_federation_section_loads(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    cert = ca.issue("hs.test")
    path = tmp_path / "homeserver.yaml"
    section = {
        "enabled": True,
        "tls_certificate_path": str(cert.cert_path),
        "tls_private_key_path": str(cert.key_path),
        "ca_certificates_path": str(ca.ca_path),
        "ip_range_allowlist": ["127.0.0.0/8"],
        "domain_allowlist": ["hs2.test", "hs3.test:8448"],
        "trusted_key_servers": [{"server_name": "notary.test"}],
        "resolve_overrides": {"hs2.test": "127.0.0.1:8449"},
        "serve_well_known": "federation.hs.test:443",
    }
    path.write_text(yaml.safe_dump({"server_name": "hs.test:8448", "federation": section}))
    federation = load_config(path).federation
    assert federation.tls
    assert federation.trusted_key_servers[0].server_name == "notary.test"
    assert dict(federation.resolve_overrides) == {"hs2.test": "127.0.0.1:8449"}
    assert not Config().federation.enabled  # off by default, as `make run` uses it


async def test_federation_routes_only_when_enabled(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'db'}", tmp_path / "data")
    async with serving(config) as live, http.get(live.url + "/_matrix/key/v2/server") as resp:
        assert resp.status == 404
    enabled = replace(config, federation=replace(config.federation, enabled=True))
    async with serving(enabled) as live:
        # No certificate: no TLS listener, the federation paths are on the client listener.
        async with http.get(live.url + "/_matrix/key/v2/server") as resp:
            assert resp.status == 200
        for item in FEDERATION_ENDPOINTS.values():
            values = dict.fromkeys(item.params, "x.test")
            async with http.request(item.method, live.url + item.path(**values)) as resp:
                body = await resp.json()
            unauthorized = resp.status == 401 and body["errcode"] == "M_UNAUTHORIZED"
            assert unauthorized == item.requires_auth, (item.name, resp.status, body)
