"""OpenGraph metadata from an HTML page, for URL previews (pure, no I/O).

Reads `<meta property="og:*">`, Twitter cards (`<meta name="twitter:*">`), `<meta
name="description">` and `<title>` with the standard library's tolerant HTML parser, and
returns the `og:*` keys a Matrix client renders, falling back from OpenGraph to Twitter card to
plain HTML. Values are whitespace-collapsed and truncated; `og:image` is made absolute against
the page's URL and kept only if it is http(s).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from core.errors import JsonDict

__all__ = ["decode_html", "parse_og"]

_MAX_VALUE = 1000
_MAX_DESCRIPTION = 500
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_KEPT = ("og:title", "og:description", "og:image", "og:type", "og:url", "og:site_name")
_FALLBACKS = {
    "og:title": ("twitter:title", "html:title"),
    "og:description": ("twitter:description", "html:description"),
    "og:image": ("twitter:image", "twitter:image:src"),
}


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
            return
        if tag != "meta":
            return
        attributes = {name.lower(): value for name, value in attrs if value is not None}
        key = (attributes.get("property") or attributes.get("name") or "").strip().lower()
        content = attributes.get("content")
        if content is None or not key:
            return
        if key == "description":
            key = "html:description"
        if key.startswith(("og:", "twitter:", "html:")):
            self.values.setdefault(key, content)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            if self._title:
                self.values.setdefault("html:title", "".join(self._title))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)


def decode_html(body: bytes, charset: str | None) -> str:
    """The page as text: the HTTP charset, else a `<meta charset>`, else UTF-8 (lossy)."""
    if charset is None:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def parse_og(html: str, page_url: str) -> JsonDict:
    """The preview's `og:*` keys (strings only; `og:image` still the page's http(s) URL)."""
    parser = _MetaParser()
    parser.feed(html)
    parser.close()
    found = parser.values
    og: JsonDict = {}
    for key in _KEPT:
        value = found.get(key)
        for fallback in _FALLBACKS.get(key, ()):
            value = value or found.get(fallback)
        if value is None:
            continue
        limit = _MAX_DESCRIPTION if key == "og:description" else _MAX_VALUE
        cleaned = " ".join(value.split())[:limit]
        if cleaned:
            og[key] = cleaned
    if "og:image" in og:
        image = urljoin(page_url, og["og:image"])
        if urlsplit(image).scheme in ("http", "https"):
            og["og:image"] = image
        else:
            del og["og:image"]
    return og
