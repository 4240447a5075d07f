"""Telling a file's format from its first bytes, whatever its extension.

School products save HTML pages and, less often, CSV text under ``.xls``, and
a real ``.xls`` may be the old binary format. The kinds:

- ``xlsx``: a zip package (``PK\\x03\\x04``), read with openpyxl;
- ``xls_binary``: an OLE2 compound file (``D0 CF 11 E0``), which is binary
  Excel 97-2003 or a password-protected workbook;
- ``spreadsheetml``: Excel 2003 XML (a ``<Workbook>`` element), not supported;
- ``html``: text that starts with ``<`` after an optional byte order mark and
  white space;
- ``binary``: bytes of which at least one in a hundred is NUL, and that are
  not UTF-16 text, such as a workbook whose first bytes were damaged. Text
  has no NUL bytes, apart from a stray one that a broken export wrote;
- ``csv``: anything else.
"""

from __future__ import annotations

import re

from adapters.common.encoding import bom_encoding, utf16_without_bom

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPREADSHEETML = re.compile(r"<(?:ss:)?Workbook[\s>]")
# A file is binary when at least 1 byte in this many, and at least this many bytes, are NUL.
_NUL_SHARE_DIVISOR = 100
_MIN_NULS = 8


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
    nuls = head.count(0)
    return (nuls >= _MIN_NULS and nuls * _NUL_SHARE_DIVISOR >= len(head)
            and not (bom_encoding(head) or utf16_without_bom(head)))


def _head_text(head: bytes) -> str:
    # Latin-1 maps every byte, and ASCII markup reads the same in any 8-bit encoding.
    encoding = bom_encoding(head) or utf16_without_bom(head) or "latin-1"
    return head.decode(encoding, errors="replace").lstrip("\ufeff")
