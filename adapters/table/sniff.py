"""Telling a file's format from its first bytes, whatever its extension.

School products save HTML pages and, less often, CSV text under ``.xls``, and
a real ``.xls`` may be the old binary format. The kinds:

- ``xlsx``: a zip package (``PK\\x03\\x04``), read with openpyxl;
- ``xls_binary``: an OLE2 compound file (``D0 CF 11 E0``), which is binary
  Excel 97-2003 or a password-protected workbook;
- ``spreadsheetml``: Excel 2003 XML (a ``<Workbook>`` element), not supported;
- ``html``: text that starts with ``<`` after an optional byte order mark and
  white space;
- ``binary``: a file that is clearly not text. It starts with the signature
  of a PDF, an image or a compressed file. Or at least one byte in a hundred
  is NUL, or one in fifty is another control byte, or, in UTF-16 text, one
  character in fifty is a control character (``_binary``). Such a file may
  be a workbook whose first bytes were damaged. Read as CSV it would give an
  encoding warning and a missing header;
- ``csv``: anything else.

The readers tell a zip or OLE2 file that is not a workbook from a damaged
workbook once they have opened it.
"""

from __future__ import annotations

import re

from adapters.common.encoding import bom_encoding, utf16_without_bom
from gateway.legacy_text import TCVN3_CONTROL_LETTERS

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The first bytes of files that people send by mistake instead of a list: PDF, PNG, JPEG,
# GIF, gzip, 7-Zip and RAR (version 4 and 5).
BINARY_SIGNATURES = (
    b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x1f\x8b\x08",
    b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07",
)
_SPREADSHEETML = re.compile(r"<(?:ss:)?Workbook[\s>]")
# A file is binary when at least 1 byte in this many, and at least this many bytes, are NUL.
_NUL_SHARE_DIVISOR = 100
_MIN_NULS = 8
# The C0 control bytes that text files contain: TAB, LF, CR and the form feed. The end-of-file
# marker 0x1A that DOS programs wrote is allowed at the end only.
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0c")
_END_MARKER = b"\x1a"
# The other C0 control bytes. TCVN 5712:1993 puts capital letters at some of them, which a
# TCVN3 file may hold, so those are left out.
_CONTROL_BYTES = bytes(sorted(set(range(0x20)) - _TEXT_CONTROLS - TCVN3_CONTROL_LETTERS))
_UTF16_CONTROLS = frozenset(chr(code) for code in range(0x20) if code not in _TEXT_CONTROLS)
# A file is binary when at least 1 byte in this many, and at least this many bytes, are such
# control bytes. Random or compressed bytes have one in 16 of them, and text almost none.
_CONTROL_SHARE_DIVISOR = 50
_MIN_CONTROLS = 8


def sniff_kind(head: bytes) -> str:
    """Return the kind of a file from its first bytes: ``xlsx``, ``xls_binary``, ``spreadsheetml``,
    ``html``, ``binary`` or ``csv``."""
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "xls_binary"
    if _binary(head):
        return "binary"
    text = _head_text(head).lstrip()
    if not text.startswith("<"):
        return "csv"
    if _SPREADSHEETML.search(text):
        return "spreadsheetml"
    return "html"


def _binary(head: bytes) -> bool:
    if head.startswith(BINARY_SIGNATURES):
        return True
    encoding = bom_encoding(head) or utf16_without_bom(head)
    if encoding and encoding.startswith("utf-16"):
        # A font or a library can have NUL bytes at every other position too, so the control
        # characters of the decoded text decide.
        text = head.decode(encoding, errors="replace").rstrip(_END_MARKER.decode())
        controls = sum(1 for char in text if char in _UTF16_CONTROLS)
        return _many(controls, len(text), _MIN_CONTROLS, _CONTROL_SHARE_DIVISOR)
    return _many(head.count(0), len(head), _MIN_NULS, _NUL_SHARE_DIVISOR) or _many(
        _control_count(head), len(head), _MIN_CONTROLS, _CONTROL_SHARE_DIVISOR)


def _control_count(head: bytes) -> int:
    """Count the control bytes of ``head`` that text does not contain, NUL included."""
    body = head.rstrip(_END_MARKER)
    return len(body) - len(body.translate(None, _CONTROL_BYTES))


def _many(count: int, size: int, minimum: int, divisor: int) -> bool:
    return count >= minimum and count * divisor >= size


def _head_text(head: bytes) -> str:
    # Latin-1 maps every byte, and ASCII markup reads the same in any 8-bit encoding.
    encoding = bom_encoding(head) or utf16_without_bom(head) or "latin-1"
    return head.decode(encoding, errors="replace").lstrip("\ufeff")
