"""Vietnamese text written in TCVN3 (the "ABC" code of the .VnTime fonts), detected and converted.

Before Unicode, Vietnamese offices typed in TCVN3: the text is one byte per
letter, and the font draws bytes 0x80-0xFF as toned letters. Such text reaches
the gateway in two shapes:

- **bytes** in an 8-bit file (a CSV or HTML page saved by an old program).
  ``detect_encoding`` calls ``tcvn3_bytes_likely`` to choose the ``tcvn3``
  codec, which this module registers, over Windows-1258;
- **Unicode text** from a workbook or a UTF-8 file whose cells were typed in
  a .VnTime font. Each byte shows as the Windows-1252 character of that byte
  ("CÇn Th¬" is "Cần Thơ"). ``LegacyTextCheck`` decides from a sample of
  cells and ``from_tcvn3_text`` converts them.

The decision compares two readings of the same sample. It counts the words
with a non-ASCII letter that cannot be one Vietnamese syllable. Such a word
has a foreign letter or sign ("CÇn", "Th¬"), or two tone marks ("Viờũt",
which is "Việt" in Windows-1258 read as TCVN3). The reading with far fewer such words wins,
and Windows-1258 or the text as written wins a tie. Foreign names such as
"Müller" are impossible in both readings, so they do not tip the decision.

The byte table is TCVN 5712:1993 (VN1), from 0x80 to 0xFF. The .VnTime fonts
use a subset of it. They had no code for a toned capital letter, because
capitals came from separate fonts (.VnTimeH) that draw the same lower-case
codes as capitals. ``case_lost`` finds the words where that shows, such as
"NGUYễN", so that a person checks them. The gateway does not guess their case.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

CODEC_NAME = "tcvn3"

# The characters of bytes 0x80-0xFF in TCVN 5712:1993 (VN1); bytes 0x00-0x7F are ASCII.
# 0xA0 is the no-break space and 0xFD is "ý", as in Latin-1.
_HIGH_HALF = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0: five combining tone marks first
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)
_DECODING_TABLE = "".join(map(chr, range(0x80))) + _HIGH_HALF
_ENCODING_TABLE = codecs.charmap_build(_DECODING_TABLE)

# TCVN3 text taken as Windows-1252 (or Latin-1) shows each byte 0xA1-0xFF as the Latin-1
# character of that byte. Below 0xA1, only the bytes that Windows-1252 shows as letters or
# accents ("ƒ" for the VN1 capital "Á") are converted. The others are dashes, quotation marks
# and signs, which typed text uses far more often than the VN1 capitals at those codes.
_ANSI_TO_TCVN3 = {byte: char for byte, char in zip(range(0xA1, 0x100), _HIGH_HALF[0x21:], strict=True)}
for _byte in (0x83, 0x88, 0x8A, 0x8C, 0x8E, 0x98, 0x9A, 0x9C, 0x9E, 0x9F):
    _ANSI_TO_TCVN3[ord(bytes([_byte]).decode("cp1252"))] = _HIGH_HALF[_byte - 0x80]

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# The characters that Windows-1252 or Latin-1 shows for a byte: TCVN3 text read as
# Windows-1252 has no other.
_ANSI_CHARS = frozenset(bytes(range(256)).decode("cp1252", errors="ignore")) | frozenset(
    map(chr, range(256)))
# One syllable without its tone mark, in lower case.
_SYLLABLE = re.compile("(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
                       "[aăâeêioôơuưy]{1,3}(?:ch|ng|nh|[cmnptk])?")  # -k: Đắk Lắk
# Word separators in school data: white space and the punctuation of names, dates and addresses.
_SEPARATORS = re.compile(r"[\s,;:.()\[\]/\\\"'|+*=_&#!?<>-]+")
# The number of words with non-ASCII letters from which a sample decides by shares.
MIN_WORDS = 5
# The reading that wins must have at most this share of the other one's impossible words.
_WIN_SHARE = 1 / 3
# Text counts as legacy only when at least this share of its words are impossible as written.
_MIN_BAD_SHARE = 0.2


def _encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
    return codecs.charmap_encode(text, errors, _ENCODING_TABLE)


def _decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
    return codecs.charmap_decode(data, errors, _DECODING_TABLE)


class _IncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, data: Any, final: bool = False) -> str:
        return codecs.charmap_decode(data, self.errors, _DECODING_TABLE)[0]


class _IncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return codecs.charmap_encode(text, self.errors, _ENCODING_TABLE)[0]


_CODEC = codecs.CodecInfo(_encode, _decode, name=CODEC_NAME,
                          incrementaldecoder=_IncrementalDecoder,
                          incrementalencoder=_IncrementalEncoder)


def _search(name: str) -> codecs.CodecInfo | None:
    # Python folds the name to lower case with "_" for spaces; glibc calls the table TCVN5712-1.
    if name.replace("-", "").replace("_", "") in ("tcvn3", "tcvn", "tcvn5712", "tcvn57121"):
        return _CODEC
    return None


codecs.register(_search)


def from_tcvn3_text(text: str) -> str:
    """Return ``text``, typed in TCVN3 and read as Windows-1252, as Unicode NFC.

    Characters that the TCVN3 reading does not produce (ASCII, or letters
    typed in a Unicode font) are kept as they are.
    """
    return unicodedata.normalize("NFC", text.translate(_ANSI_TO_TCVN3))


@lru_cache(maxsize=65536)
def impossible_word(word: str) -> bool:
    """Tell whether ``word`` cannot be one Vietnamese syllable.

    A syllable is an initial consonant (or none), one to three vowels and a
    final consonant (or none), with at most one tone mark. Its letters are
    small, capital, or small after a capital, but a non-ASCII capital never
    follows a small letter ("NguyÔn" is "Nguyễn" in TCVN3). Foreign letters
    and signs (Ç, ¬, µ) and Windows-1258 marks read as TCVN3 letters break it too.
    """
    if _capital_after_small(word):
        return True
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for char in decomposed if char in _TONE_MARKS)
    toneless = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return tones > 1 or _SYLLABLE.fullmatch(toneless) is None


def case_lost(text: str) -> bool:
    """Tell whether ``text`` has a capitalised word with a lower-case toned letter ("NGUYễN")."""
    for word in _SEPARATORS.split(text):
        capitals = sum(1 for char in word if char.isascii() and char.isupper())
        if capitals >= 2 and any(not char.isascii() and char.islower() for char in word):
            return True
    return False


def _capital_after_small(word: str) -> bool:
    """Tell whether a non-ASCII capital follows a small letter in ``word``."""
    small = False
    for char in word:
        if char.islower():
            small = True
        elif small and char.isupper() and not char.isascii():
            return True
    return False


def _non_ascii_words(text: str) -> list[str]:
    return [word for word in _SEPARATORS.split(text) if not word.isascii()]


def impossible_words(text: str) -> int:
    """Count the words of ``text`` with a non-ASCII letter that cannot be Vietnamese syllables."""
    return sum(map(impossible_word, _non_ascii_words(text)))


def convert_row(cells: list[str]) -> list[str]:
    """Return the cells of one row converted from TCVN3, unless the row was typed in Unicode.

    A table typed in a .VnTime font may have a title, a header or a few rows
    typed in Unicode, such as "Tên" or "Mã HS" from a template, which converting
    would spoil ("Tờn", "Mó HS"). A row in which no word is impossible as
    written is kept. In any other row, a cell with a character that
    Windows-1252 lacks ("ọ") is kept, and so is a cell that converting would
    give more impossible words.
    """
    convertible = [i for i, cell in enumerate(cells)
                   if not cell.isascii() and all(char in _ANSI_CHARS for char in cell)]
    if not any(impossible_words(cells[i]) for i in convertible):
        return cells
    converted = list(cells)
    for i in convertible:
        candidate = from_tcvn3_text(cells[i])
        if impossible_words(candidate) <= impossible_words(cells[i]):
            converted[i] = candidate
    return converted


@dataclass
class WordCounts:
    """Words with a non-ASCII character in a sample, and how many of them are impossible."""

    words: int = 0
    impossible: int = 0

    def add(self, text: str) -> None:
        words = _non_ascii_words(text)
        self.words += len(words)
        self.impossible += sum(map(impossible_word, words))


def reading_wins(legacy: WordCounts, as_written: WordCounts) -> bool:
    """Tell whether the legacy reading of a sample is clearly better than the reading as written.

    A sample of fewer than ``MIN_WORDS`` words decides only when at least two
    words are impossible, every one as written and none in the legacy reading.
    """
    if as_written.words < MIN_WORDS:
        return (as_written.impossible >= 2 and as_written.impossible == as_written.words
                and legacy.impossible == 0)
    if as_written.impossible < _MIN_BAD_SHARE * as_written.words:
        return False
    return legacy.impossible <= _WIN_SHARE * as_written.impossible


def tcvn3_bytes_likely(sample: bytes, other: str) -> bool:
    """Tell whether the 8-bit ``sample`` reads as TCVN3 clearly better than as the codec ``other``."""
    legacy, as_written = WordCounts(), WordCounts()
    legacy.add(sample.decode(CODEC_NAME, errors="replace"))
    as_written.add(unicodedata.normalize("NFC", sample.decode(other, errors="replace")))
    return reading_wins(legacy, as_written)


class LegacyTextCheck:
    """A sample of a table's text cells, to decide whether they are TCVN3 read as Windows-1252."""

    def __init__(self) -> None:
        self.legacy = WordCounts()
        self.as_written = WordCounts()

    def add(self, cells: Iterable[str]) -> None:
        for cell in cells:
            if cell and not cell.isascii():
                self.as_written.add(cell)
                self.legacy.add(from_tcvn3_text(cell))

    def is_tcvn3(self) -> bool:
        return reading_wins(self.legacy, self.as_written)
