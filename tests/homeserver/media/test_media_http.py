"""Pure helpers of the media endpoints: byte ranges, Content-Disposition, HTML metadata, IPs."""

from __future__ import annotations

import ipaddress

import pytest

from homeserver.api.client.media_download import (
    RangeNotSatisfiableError,
    byte_range,
    content_disposition,
    media_headers,
)
from homeserver.services.media.html_meta import decode_html, parse_og
from homeserver.services.media.url_fetch import IpPolicy


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-1000", (0, 100)),
        ("bytes=90-1000", (90, 100)),
        ("bytes=99-99", (99, 100)),
        ("bytes=9-3", None),
        ("bytes=0-1,4-5", None),
        ("items=0-5", None),
        ("bytes=-", None),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        byte_range(header, 100)


def test_content_disposition() -> None:
    assert content_disposition("inline", None) == "inline"
    assert content_disposition("inline", "a b.png") == 'inline; filename="a b.png"'
    assert content_disposition("attachment", "日本.txt") == (
        "attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt"
    )
    assert content_disposition("attachment", 'x";evil=1') == (
        "attachment; filename*=utf-8''x%22%3Bevil%3D1"
    )
    assert content_disposition("inline", "a\r\nSet-Cookie: x") == (
        "inline; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x"
    )


def test_media_headers_decide_inline_by_type_only() -> None:
    assert media_headers("IMAGE/PNG; x=y", None)["Content-Disposition"] == "inline"
    assert media_headers("text/html", "a.html")["Content-Disposition"].startswith("attachment")
    assert media_headers("text/html", None, inline=True)["Content-Disposition"] == "inline"


def test_parse_og_with_fallbacks() -> None:
    html = """<html><head><title> Page  title </title>
    <meta name="description" content="plain description">
    <meta name="twitter:image" content="//cdn.example.org/i.png">
    <meta property="og:site_name" content="Example">
    <meta property="og:image:alt" content="ignored">
    </head></html>"""
    assert parse_og(html, "https://example.org/a/b") == {
        "og:title": "Page title",
        "og:description": "plain description",
        "og:image": "https://cdn.example.org/i.png",
        "og:site_name": "Example",
    }


def test_parse_og_drops_non_http_images_and_truncates() -> None:
    html = (
        '<meta property="og:image" content="javascript:alert(1)">'
        f'<meta property="og:description" content="{"x" * 5000}">'
    )
    og = parse_og(html, "https://example.org/")
    assert "og:image" not in og
    assert len(og["og:description"]) == 500


def test_decode_html_finds_meta_charset() -> None:
    body = '<meta charset="iso-8859-1"><title>café</title>'.encode("iso-8859-1")
    assert "café" in decode_html(body, None)
    assert "caf" in decode_html(body, "no-such-charset")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104 (an address under test, not a bind)
        ("224.0.0.251", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("not an ip", False),
    ],
)
def test_ip_policy_default(address: str, allowed: bool) -> None:
    assert IpPolicy(()).allows(address) is allowed


def test_ip_policy_allow_list() -> None:
    policy = IpPolicy((ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("fd00::/8")))
    assert policy.allows("127.0.0.1")
    assert policy.allows("::ffff:127.0.0.1")
    assert policy.allows("fd12::1")
    assert not policy.allows("127.0.0.2")
    assert not policy.allows("10.0.0.1")
