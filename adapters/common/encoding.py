"""Deciding the text encoding of a byte stream before any line is split.

``detect_encoding`` looks at the bytes in this order:

1. a byte order mark: UTF-8 (``utf-8-sig``), UTF-16 LE or BE (``utf-16``);
2. UTF-16 without a mark, seen as NUL bytes at every other position of the
   first chunk (``utf-16-le`` or ``utf-16-be``);
3. UTF-8, when the whole stream decodes as UTF-8. The stream is read one chunk
   at a time, so memory stays flat and a single non-ASCII byte near the end
   decides as much as one at the start;
4. UTF-8 as well when its invalid bytes are few: at most one for every
   ``MOSTLY_UTF8_RATIO`` characters that decode to non-ASCII letters. A UTF-8
   list into which one name was pasted from a Windows-1258 program is such a
   file. Reading it as Windows-1258 would garble every other name, so it is
   read as UTF-8 and only the rows with invalid bytes are rejected (reason
   ``mostly_utf8``). Windows-1258 text almost never forms valid UTF-8
   sequences, so its invalid bytes outnumber its valid sequences;
5. lines in two encodings: some lines of the first chunk decode as UTF-8
   with at least ``MIXED_MIN_CHARS`` non-ASCII characters, and others do not
   decode (a UTF-8 header over rows pasted from an 8-bit file). The stream is
   then decoded line by line (``mixed_codec``): as UTF-8 where a line decodes,
   else in the encoding that rules 6 to 8 choose for the other lines;
6. TCVN3 or VNI-Windows (the ``tcvn3`` and ``vni`` codecs of
   ``gateway.legacy_text``), when the first chunk read in that code gives far
   fewer impossible Vietnamese words than read as the codec of rule 7 or 8;
7. an encoding the file declares (an HTML ``<meta charset>``), when Python
   has a codec of that name and it is not a Unicode encoding, which the bytes
   have already contradicted;
8. otherwise Windows-1258 (``cp1258``), the Vietnamese Windows code page.

Windows-1258 writes most toned letters as a base letter plus a combining
mark, so its text must be normalised to NFC after decoding.
``gateway.text.clean``, which every cell goes through, does that.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.legacy_text import LEGACY_ENCODINGS, legacy_bytes_encoding

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
# A stream is mostly UTF-8 when it has at least this many non-ASCII characters
# that decode for each byte that does not.
MOSTLY_UTF8_RATIO = 10
# Invalid bytes seen before the scan stops early when they already outnumber
# the valid sequences: Windows-1258 text reaches this within a few lines.
_EARLY_STOP_INVALID_BYTES = 64
# A line with at least this many non-ASCII characters that decodes as UTF-8 is UTF-8 text.
MIXED_MIN_CHARS = 3
# Bytes of one unended line that the line-by-line decoder keeps before it decodes them.
_MAX_PENDING_BYTES = 4 * CHUNK_BYTES
# Codec names of the line-by-line decoding: this prefix and the other encoding.
_MIXED_PREFIX = "utf8_lines_"
# surrogateescape turns each byte that does not decode into one of these.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


class BinaryReader(Protocol):
    """A file object opened in binary mode; only ``read`` is used."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class DetectedEncoding:
    """The encoding chosen for a stream: a Python codec name, whether a mark was seen, and why.

    ``reason`` is one of ``bom``, ``utf16_pattern``, ``valid_utf8``,
    ``mostly_utf8``, ``mixed_lines``, ``tcvn3_pattern``, ``vni_pattern``,
    ``declared`` and ``fallback``. ``invalid_bytes`` counts the bytes that do not decode when
    the reason is ``mostly_utf8``.
    """

    encoding: str
    bom: bool
    reason: str
    invalid_bytes: int = 0


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
    when the bytes are not UTF-8, Python has a codec of that name, and it is
    not a Unicode encoding: a page that declares UTF-8 or UTF-16 but whose
    bytes are neither is read as Windows-1258.
    """
    head = handle.read(chunk_bytes)
    marked = bom_encoding(head)
    if marked is not None:
        return DetectedEncoding(marked, bom=True, reason="bom")
    utf16 = utf16_without_bom(head)
    if utf16 is not None:
        return DetectedEncoding(utf16, bom=False, reason="utf16_pattern")
    valid, invalid = _scan_utf8(_chunks(head, handle, chunk_bytes))
    if not invalid:
        return DetectedEncoding("utf-8", bom=False, reason="valid_utf8")
    if valid >= MOSTLY_UTF8_RATIO * invalid:
        return DetectedEncoding("utf-8", bom=False, reason="mostly_utf8", invalid_bytes=invalid)
    known = known_codec(declared)
    if known is not None and known.startswith("utf"):
        known = None  # the bytes have already contradicted a Unicode declaration
    other_lines = _other_lines(head)
    if other_lines is not None:
        other = _eight_bit(other_lines, known)
        return DetectedEncoding(mixed_codec(other.encoding), bom=False, reason="mixed_lines")
    return _eight_bit(head, known)


def foreign_encoding(head: bytes) -> str | None:
    """Return the likely encoding of a file that must be UTF-8 but whose first chunk is not.

    ``head`` is the start of the file. Return ``None`` when it is UTF-8, with or without a
    byte order mark. Return ``None`` too when at least one of its lines with non-ASCII letters
    decodes as UTF-8, because such a file is UTF-8 with some lines pasted from another program,
    and its reader rejects only those lines. Otherwise return the Python codec name that ``detect_encoding``
    would choose for the bytes: ``utf-16``, ``utf-16-le``, ``utf-16-be``, ``cp1258``,
    ``tcvn3`` or ``vni``. Windows-1258 text almost never forms a valid UTF-8 line.

    NOTE: only the first chunk is read, so a file whose first 64 KiB are ASCII and whose later
    lines are Windows-1258 still passes, and its reader rejects those lines one by one.
    """
    marked = bom_encoding(head)
    if marked is not None:
        return None if marked == "utf-8-sig" else marked
    utf16 = utf16_without_bom(head)
    if utf16 is not None:
        return utf16
    lines = head.split(b"\n")
    if len(head) >= CHUNK_BYTES:
        # A multi-byte character cut at the end of the chunk must not count as invalid.
        lines = lines[:-1]
    invalid = utf8_text = False
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid = True
        else:
            utf8_text = True
    if not invalid or utf8_text:
        return None
    return _eight_bit(head, None).encoding


def _eight_bit(sample: bytes, known: str | None) -> DetectedEncoding:
    """Choose the 8-bit encoding of ``sample`` by rules 6 to 8 of the module docstring."""
    legacy = None if known in LEGACY_ENCODINGS else legacy_bytes_encoding(
        sample, known or FALLBACK_ENCODING)
    if legacy is not None:
        return DetectedEncoding(legacy, bom=False, reason=f"{legacy}_pattern")
    if known is not None:
        return DetectedEncoding(known, bom=False, reason="declared")
    return DetectedEncoding(FALLBACK_ENCODING, bom=False, reason="fallback")


def _other_lines(head: bytes) -> bytes | None:
    """Return the lines of ``head`` that are not UTF-8 when others are UTF-8 text, else ``None``.

    A line counts as UTF-8 text when it decodes and has at least ``MIXED_MIN_CHARS``
    non-ASCII characters, which 8-bit text rarely forms by chance.
    """
    lines = head.split(b"\n")
    if len(head) >= CHUNK_BYTES:
        lines = lines[:-1]  # cut at the end of the chunk
    utf8_text, other = False, []
    for line in lines:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(line)
            continue
        utf8_text = utf8_text or len(_NON_ASCII.findall(text)) >= MIXED_MIN_CHARS
    return b"\n".join(other) if utf8_text and other else None


def mixed_codec(other: str) -> str:
    """Return the name of the codec that decodes each line as UTF-8, or else as ``other``."""
    return f"{_MIXED_PREFIX}{other}"


def mixed_other(name: str) -> str:
    """Return the encoding of the lines that are not UTF-8, from a ``mixed_codec`` name."""
    return name.removeprefix(_MIXED_PREFIX)


class _LinesDecoder(codecs.IncrementalDecoder):
    """A decoder of whole lines, each as UTF-8 when it decodes, else in another encoding."""

    def __init__(self, other: str, errors: str = "strict") -> None:
        super().__init__(errors)
        self.other = other
        self.pending = b""

    def decode(self, data: Any, final: bool = False) -> str:
        data = self.pending + bytes(data)
        end = len(data) if final else data.rfind(b"\n") + 1
        if len(data) - end > _MAX_PENDING_BYTES:
            # A line this long is rejected as too long anyway: decode what there is, so that
            # memory stays bounded.
            end = len(data)
        self.pending = data[end:]
        return "".join(self._line(line) for line in data[:end].splitlines(keepends=True))

    def _line(self, line: bytes) -> str:
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            return line.decode(self.other, self.errors)

    def reset(self) -> None:
        self.pending = b""


def _search_mixed(name: str) -> codecs.CodecInfo | None:
    if not name.startswith(_MIXED_PREFIX):
        return None
    other = known_codec(name[len(_MIXED_PREFIX):])
    if other is None:
        return None

    def decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
        return _LinesDecoder(other, errors).decode(data, final=True), len(data)

    def encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
        return text.encode("utf-8", errors), len(text)

    def incremental(errors: str = "strict") -> codecs.IncrementalDecoder:
        return _LinesDecoder(other, errors)

    return codecs.CodecInfo(encode, decode, name=mixed_codec(other),
                            incrementaldecoder=incremental)


codecs.register(_search_mixed)


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


def _scan_utf8(chunks: Iterator[bytes]) -> tuple[int, int]:
    """Count the non-ASCII characters that decode as UTF-8 and the bytes that do not.

    Stops early once the invalid bytes are too many for the stream to count as
    mostly UTF-8, so a Windows-1258 file is not read to its end.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    valid = invalid = 0
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text.isascii():
            continue
        bad = len(_ESCAPED_BYTE.findall(text))
        valid += len(_NON_ASCII.findall(text)) - bad
        invalid += bad
        if invalid >= _EARLY_STOP_INVALID_BYTES and valid < MOSTLY_UTF8_RATIO * invalid:
            return valid, invalid
    invalid += len(_ESCAPED_BYTE.findall(decoder.decode(b"", True)))
    return valid, invalid


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
