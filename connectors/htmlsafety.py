"""What every HTML page Anju writes shares: data that cannot become markup or code, and a
Content-Security-Policy that lets only the page's own scripts run.

* Data in a ``<script>`` block is JSON with ``< > &`` and U+2028/U+2029 written as
  ``\\u003c``-style escapes (:func:`script_json`): no value can close the script
  (``</script>``), open an HTML comment that swallows it (``<!--<script>``), or end a JS
  line. Data in HTML text or attributes is ``html.escape``-d by the writer.
* Scripts run only if their sha256 is listed in the page's policy (:func:`policy`). The
  hashes are computed from the scripts the writer itself assembled, never by scanning the
  finished page (which would bless whatever got injected); no ``'unsafe-inline'`` for
  scripts, no network source, ``default-src 'none'``. Styles may stay inline: CSS
  cannot run code and, with no network source, cannot send anything out.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re

_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def script_json(value) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element.

    >>> script_json(["</script><!--\\u2028&"])
    '["\\\\u003c/script\\\\u003e\\\\u003c!--\\\\u2028\\\\u0026"]'
    """
    text = json.dumps(value, ensure_ascii=False)
    # a str.replace per character (no escape holds another): one pass in C each, where a
    # regex calling back per match took 3 s on a province's grid (0.3 s so)
    for raw, escaped in _SCRIPT_UNSAFE.items():
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def script_hash(body: str) -> str:
    """The CSP source for an inline script whose text is ``body``. The browser hashes the
    text after the HTML parser normalised line breaks (CR LF and CR become LF)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"


def script_hash_utf8(parts: list[bytes]) -> str:
    """:func:`script_hash` of a script whose UTF-8 text comes in ``parts`` (JSON data, made
    a piece at a time). JSON holds no raw line break to normalise; a carriage return
    here would be a writer's bug, and would make the hash wrong, so it raises.

    >>> script_hash_utf8([b'{"a": ', '"安居"}'.encode()]) == script_hash('{"a": "安居"}')
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        if b"\r" in part:
            raise ValueError("a JSON script's text holds a raw carriage return")
        digest.update(part)
    return "'sha256-" + base64.b64encode(digest.digest()).decode() + "'"


def inline_scripts(fragment: str) -> list[str]:
    """The texts of the inline scripts of an HTML fragment the writer produced itself."""
    return INLINE_SCRIPT.findall(fragment)


def policy(script_hashes: list[str], *, files: bool = False, data_images: bool = True) -> str:
    """The page's policy. ``files``: the page also loads scripts, styles, fonts and images
    from files beside it ('self', which Chromium resolves to file: for a page on disk)."""
    own = " 'self'" if files else ""
    hashes = " ".join(sorted(set(script_hashes)))
    return (f"default-src 'none'; script-src{own} {hashes}; style-src{own} 'unsafe-inline'; "
            f"img-src{own}{' data: blob:' if data_images else ''}; font-src{own} data:; "
            "base-uri 'none'; form-action 'none'")


def policy_meta(csp: str) -> str:
    return f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">'
