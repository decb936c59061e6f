"""The bytes of a CSV export as text: encoding detected, lines that cannot be text set aside.

Most exports decode whole in one encoding and hold no NUL byte: then :func:`decode_csv` only
names the encoding and pandas decodes the file itself (the fast path, one copy in memory).
Otherwise the file is decoded here with an error handler that marks each bad byte, and every
line holding a NUL or a marked byte is reported by its line number, so that the one record it
belongs to goes to quarantine and the rest of the file is read.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from connectors.errors import SourceError

ENCODINGS = ("utf-8", "gbk", "gb18030")
EXPECTED = "text in GB18030, GBK, UTF-8 (with or without BOM) or UTF-16"
SAMPLE = 1 << 20
# Signatures of files that are no text at all: zip (xlsx, docx), OLE (xls), PDF, PNG, gzip, 7z, rar.
MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")
MARK = "anju.mark"
# A NUL, or a byte marked by the handler below (a lone surrogate: no strict decoder yields one).
BAD = re.compile("[\x00\ud800-\udfff]")
BREAK = re.compile(r"\r\n|\r|\n")
BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


def _mark(e: UnicodeDecodeError) -> tuple[str, int]:
    """Each undecodable byte becomes U+DC00+byte; line ends stay line ends, so no line number moves."""
    bad = e.object[e.start:e.end]
    return "".join("\n" if b == 10 else "\r" if b == 13 else chr(0xDC00 + b) for b in bad), e.end


codecs.register_error(MARK, _mark)


@dataclass
class Decoded:
    encoding: str                  # the codec pandas (fast path) or this module (text) decoded with
    reported: str                  # as run.json says it
    text: str | None = None        # None: the fast path, pandas reads the file
    bad_lines: dict[int, tuple[str, str]] = field(default_factory=dict)  # line -> (reason, line text)


def count_breaks(s) -> int:
    """Line breaks as a text editor counts them: CR LF, CR or LF (bytes or str)."""
    lf, cr, crlf = ("\n", "\r", "\r\n") if isinstance(s, str) else (b"\n", b"\r", b"\r\n")
    return s.count(lf) + s.count(cr) - s.count(crlf)


def line_offset(s, lines: int) -> int:
    """Where line ``lines + 1`` starts in ``s`` (bytes or str)."""
    if lines <= 0:
        return 0
    for n, m in enumerate((BREAK if isinstance(s, str) else BREAK_BYTES).finditer(s), 1):
        if n == lines:
            return m.end()
    return len(s)


def _utf16(head: bytes) -> tuple[str, int] | None:
    """UTF-16 by its BOM, or by the NUL in every other byte that ASCII text in UTF-16 has."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le", 2
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be", 2
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le", 0
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be", 0
    return None


def _mostly_utf8(data: bytes) -> bool:
    """In a sample, are more of the lines with non-ASCII bytes valid UTF-8 than not?

    A UTF-8 export with one line typed in GBK must not be read as GBK: GB18030 decodes almost
    any bytes, and would turn every other line to nonsense without an error."""
    good = bad = 0
    for line in data[:SAMPLE].split(b"\n")[:-1] or [data[:SAMPLE]]:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return good > bad


def _strict(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif _mostly_utf8(data):
        candidates = ("utf-8",)
    else:
        candidates = ENCODINGS
    for enc in candidates:
        try:
            data.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return None


def _render(line: str) -> str:
    """A bad line as text a person can read: NUL and undecodable bytes as \\xNN."""
    return BAD.sub(lambda m: f"\\x{(ord(m.group()) - 0xDC00) if m.group() != chr(0) else 0:02x}", line)


def _bad_lines(text: str, encoding: str) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    pos = last = 0
    line = 1
    while (m := BAD.search(text, pos)) is not None:
        line += count_breaks(text[last:m.start()])
        start = max(text.rfind("\n", 0, m.start()), text.rfind("\r", 0, m.start())) + 1
        brk = BREAK.search(text, m.start())
        end, after = (brk.start(), brk.end()) if brk else (len(text), len(text))
        content = text[start:end]
        if "\x00" in content:
            reason = "NUL bytes in the line (binary data)"
        else:
            first = next(c for c in content if "\ud800" <= c <= "\udfff")
            reason = f"bytes not valid in {encoding} (first \\x{ord(first) - 0xDC00:02x}), another encoding?"
        out[line] = (reason, _render(content))
        line, last, pos = line + (1 if brk else 0), after, after
    return out


def decode_csv(data: bytes, location: str) -> Decoded:
    """The encoding of a CSV export, and its text with bad lines noted when it needs them."""
    head = data[:65536]
    utf16 = _utf16(head)
    if utf16 is None and (data.startswith(MAGIC) or (head.count(0) > len(head) // 4)):
        raise SourceError(location, "binary content (NUL bytes), not a CSV text file",
                          expected="a CSV in GB18030, GBK, UTF-8 or UTF-16")
    if utf16:
        codec, skip = utf16
        text = data[skip:].decode(codec, MARK)
        return Decoded(codec, codec.replace("-", "").replace("utf16", "utf-16"), text, _bad_lines(text, codec))
    enc = _strict(data)
    if enc is not None and b"\x00" not in data:
        return Decoded(enc, enc.replace("-sig", " with BOM"))
    if enc is None:  # some lines are not in the file's encoding: read it in the most likely one
        enc = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8" if _mostly_utf8(data) else "gb18030"
    text = data.decode(enc, MARK)
    return Decoded(enc, enc.replace("-sig", " with BOM"), text, _bad_lines(text, enc.replace("-sig", "")))


def clean(text: str) -> str:
    """The text pandas and csv can parse: every bad character replaced, no line moved."""
    return BAD.sub("\ufffd", text)
