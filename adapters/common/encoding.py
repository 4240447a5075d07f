"""Deciding the text encoding of a byte stream before any line is split.

``detect_encoding`` looks at the bytes in this order:

1. a byte order mark: UTF-8 (``utf-8-sig``), UTF-16 LE or BE (``utf-16``);
2. UTF-16 without a mark, seen as NUL bytes at every other position of the
   first chunk (``utf-16-le`` or ``utf-16-be``);
3. UTF-8, when the whole stream decodes as UTF-8. The stream is read one chunk
   at a time, so memory stays flat and a single non-ASCII byte near the end
   decides as much as one at the start;
4. an encoding the file declares (an HTML ``<meta charset>``), when Python
   has a codec of that name;
5. otherwise Windows-1258 (``cp1258``), the Vietnamese Windows code page.

Windows-1258 writes most toned letters as a base letter plus a combining
mark, so its text must be normalised to NFC after decoding.
``gateway.text.clean``, which every cell goes through, does that.

NOTE: TCVN3 (ABC) and VNI-Windows text is not detected yet. Such bytes are not
valid UTF-8, so they are decoded as Windows-1258 and come out as mojibake.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

CHUNK_BYTES = 1 << 16
FALLBACK_ENCODING = "cp1258"

# UTF-32 is left out: its little-endian mark starts with the UTF-16 one, and
# spreadsheet and school software do not write it.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Share of byte pairs that must have a NUL on one side for UTF-16 without a
# mark. ASCII digits, separators and spaces dominate school tables, so their
# UTF-16 form has a NUL in most pairs; UTF-8 and 8-bit text have almost none.
_UTF16_NUL_SHARE = 0.3
_UTF16_OTHER_SIDE_MAX = 0.05
_UTF16_SAMPLE_BYTES = 4096


class BinaryReader(Protocol):
    """A file object opened in binary mode; only ``read`` is used."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class DetectedEncoding:
    """The encoding chosen for a stream: a Python codec name, whether a mark was seen, and why.

    ``reason`` is one of ``bom``, ``utf16_pattern``, ``valid_utf8``,
    ``declared`` and ``fallback``.
    """

    encoding: str
    bom: bool
    reason: str


def bom_encoding(head: bytes) -> str | None:
    """Return the codec for the byte order mark at the start of ``head``, or ``None``."""
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """Return ``utf-16-le`` or ``utf-16-be`` when ``head`` looks like UTF-16 text without a mark."""
    sample = head[:_UTF16_SAMPLE_BYTES]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nuls = sample[0: pairs * 2: 2].count(0) / pairs
    odd_nuls = sample[1: pairs * 2: 2].count(0) / pairs
    if odd_nuls >= _UTF16_NUL_SHARE and even_nuls <= _UTF16_OTHER_SIDE_MAX:
        return "utf-16-le"
    if even_nuls >= _UTF16_NUL_SHARE and odd_nuls <= _UTF16_OTHER_SIDE_MAX:
        return "utf-16-be"
    return None


def detect_encoding(
    handle: BinaryReader, *, declared: str | None = None, chunk_bytes: int = CHUNK_BYTES
) -> DetectedEncoding:
    """Read ``handle`` to decide its encoding, by the rules in the module docstring.

    ``handle`` is read from its current position, up to its end when there is
    no byte order mark, so the caller opens the stream again to read the text.
    ``declared`` is an encoding the content names for itself. It is used only
    when the bytes are not UTF-8 and Python has a codec of that name.
    """
    head = handle.read(chunk_bytes)
    marked = bom_encoding(head)
    if marked is not None:
        return DetectedEncoding(marked, bom=True, reason="bom")
    utf16 = utf16_without_bom(head)
    if utf16 is not None:
        return DetectedEncoding(utf16, bom=False, reason="utf16_pattern")
    if _decodes_as_utf8(_chunks(head, handle, chunk_bytes)):
        return DetectedEncoding("utf-8", bom=False, reason="valid_utf8")
    known = known_codec(declared)
    if known is not None:
        return DetectedEncoding(known, bom=False, reason="declared")
    return DetectedEncoding(FALLBACK_ENCODING, bom=False, reason="fallback")


def known_codec(name: str | None) -> str | None:
    """Return the Python codec name for ``name`` (``windows-1258`` -> ``cp1258``), or ``None``."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def _chunks(head: bytes, handle: BinaryReader, chunk_bytes: int) -> Iterator[bytes]:
    yield head
    while chunk := handle.read(chunk_bytes):
        yield chunk


def _decodes_as_utf8(chunks: Iterator[bytes]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        for chunk in chunks:
            decoder.decode(chunk)
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


class Utf8Recoder:
    """A binary reader that returns the text of ``handle`` in ``encoding`` re-encoded as UTF-8.

    Parsers that take bytes (lxml) then read every encoding Python has a codec
    for, with one rule for byte order marks. Bytes that do not decode become U+FFFD.
    """

    def __init__(self, handle: BinaryReader, encoding: str, chunk_bytes: int = CHUNK_BYTES):
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._chunk_bytes = chunk_bytes
        self._buffer = b""
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes of UTF-8 (all that is left when ``size`` is negative)."""
        while not self._done and (size < 0 or len(self._buffer) < size):
            chunk = self._handle.read(self._chunk_bytes)
            self._done = not chunk
            self._buffer += self._decoder.decode(chunk, self._done).encode("utf-8")
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
