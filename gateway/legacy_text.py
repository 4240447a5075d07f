"""Vietnamese text in the legacy font codes TCVN3 and VNI-Windows, detected and converted.

Before Unicode, Vietnamese offices typed in one of two 8-bit font codes:

- **TCVN3** (the "ABC" code of the .VnTime fonts): one byte per letter, the
  font drawing bytes 0x80-0xFF as toned letters ("CÇn Th¬" is "Cần Thơ");
- **VNI-Windows** (the VNI-Times fonts): a vowel is its ASCII letter followed
  by one byte that the font draws as its marks ("Caàn Thô" is "Cần Thơ"),
  and a few letters (ơ, ư, đ, the toned i) are one byte.

Such text reaches the gateway in two shapes:

- **bytes** in an 8-bit file (a CSV or HTML page saved by an old program).
  ``detect_encoding`` calls ``legacy_bytes_encoding`` to choose the ``tcvn3``
  or ``vni`` codec, which this module registers, over Windows-1258;
- **Unicode text** from a workbook or a UTF-8 file whose cells were typed in
  a legacy font. Each byte shows as the Windows-1252 character of that byte.
  ``LegacyTextCheck`` decides from a sample of cells, and ``convert_row``
  converts them.

The decision compares the readings of the same sample. It counts the words
with a non-ASCII letter that cannot be one Vietnamese syllable. Such a word
has a foreign letter or sign ("CÇn", "Th¬"), two tone marks ("Viờũt", which
is "Việt" in Windows-1258 read as TCVN3), or vowels that no syllable has
("Nguyeãn", which is "Nguyễn" in VNI). The legacy reading with far fewer such
words than the text as written wins, and the text as written wins a tie.
Foreign names such as "Müller" are impossible in every reading, so they do
not tip the decision.

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
# The control bytes at which VN1 puts the capitals Ú, Ụ, Ừ, Ử, Ữ, Ứ, Ự, Ỳ, Ỷ, Ỹ, Ý and Ỵ (GNU
# iconv's TCVN5712-1 reads them so). The .VnTime fonts do not use them, so the codec reads
# them as ASCII, but a file written by a program that follows VN1 may hold them.
TCVN3_CONTROL_LETTERS = frozenset(b"\x01\x02\x04\x05\x06\x11\x12\x13\x14\x15\x16\x17")
_ENCODING_TABLE = codecs.charmap_build(_DECODING_TABLE)

# TCVN3 text taken as Windows-1252 (or Latin-1) shows each byte 0xA1-0xFF as the Latin-1
# character of that byte. Below 0xA1, only the bytes that Windows-1252 shows as letters or
# accents ("ƒ" for the VN1 capital "Á") are converted. The others are dashes, quotation marks
# and signs, which typed text uses far more often than the VN1 capitals at those codes.
_ANSI_TO_TCVN3 = {byte: char for byte, char in zip(range(0xA1, 0x100), _HIGH_HALF[0x21:], strict=True)}
for _byte in (0x83, 0x88, 0x8A, 0x8C, 0x8E, 0x98, 0x9A, 0x9C, 0x9E, 0x9F):
    _ANSI_TO_TCVN3[ord(bytes([_byte]).decode("cp1252"))] = _HIGH_HALF[_byte - 0x80]

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
# The characters that Windows-1252 or Latin-1 shows for a byte: TCVN3 and VNI text read as
# Windows-1252 has no other.
_ANSI_CHARS = frozenset(bytes(range(256)).decode("cp1252", errors="ignore")) | frozenset(
    map(chr, range(256)))

# VNI-Windows ---------------------------------------------------------------------------------

VNI_CODEC_NAME = "vni"

_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
_CIRCUMFLEX, _BREVE = "\u0302", "\u0306"
# The byte after a vowel, as Windows-1252 shows it in lower case, and the marks the VNI
# fonts draw for it. The upper-case character of the same letter draws the same marks over
# a capital ("AÙ" is "Á").
_VNI_TONES = {"ù": _ACUTE, "ø": _GRAVE, "û": _HOOK, "õ": _TILDE, "ï": _DOT}
_VNI_CIRCUMFLEX = {"â": "", "á": _ACUTE, "à": _GRAVE, "å": _HOOK, "ã": _TILDE, "ä": _DOT}
_VNI_BREVE = {"ê": "", "é": _ACUTE, "è": _GRAVE, "ú": _HOOK, "ü": _TILDE, "ë": _DOT}
# Letters of one byte: ơ and ư (which also take a tone byte after them), đ, and i and y
# with the tones that have no room above them.
_VNI_LETTERS = {"ô": "ơ", "ö": "ư", "ñ": "đ", "í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị",
                "î": "ỵ"}


def _vni_pairs() -> dict[str, str]:
    """Return every two-character VNI form ("aù", "AÙ", "Aù") with its Unicode letter."""
    small: dict[str, str] = {}
    for base in "aeouy":
        small |= {base + byte: base + mark for byte, mark in _VNI_TONES.items()}
    for base in "ôö":
        small |= {base + byte: _VNI_LETTERS[base] + mark for byte, mark in _VNI_TONES.items()}
    for base in "aeo":
        small |= {base + byte: base + _CIRCUMFLEX + mark for byte, mark in _VNI_CIRCUMFLEX.items()}
    small |= {"a" + byte: "a" + _BREVE + mark for byte, mark in _VNI_BREVE.items()}
    pairs = {}
    for form, letter in small.items():
        letter = unicodedata.normalize("NFC", letter)
        pairs[form] = letter
        pairs[form.upper()] = letter.upper()
        pairs[form[0].upper() + form[1]] = letter.upper()
    return pairs


_VNI_PAIRS = _vni_pairs()
_VNI_SINGLES = _VNI_LETTERS | {key.upper(): value.upper() for key, value in _VNI_LETTERS.items()}
_VNI_MARK_BYTES = "".join(_VNI_TONES) + "".join(_VNI_CIRCUMFLEX) + "".join(_VNI_BREVE)
# The letters that a mark byte may follow, in both cases.
_VNI_BASES = frozenset(form[0] for form in _VNI_PAIRS)
_VNI_FORM = re.compile(
    f"[{''.join(sorted(_VNI_BASES))}][{_VNI_MARK_BYTES}{_VNI_MARK_BYTES.upper()}]"
    f"|[{''.join(_VNI_SINGLES)}]")
_UNICODE_TO_VNI = {letter: form for form, letter in _VNI_PAIRS.items()
                   if form[0].islower() == form[1].islower()}
_UNICODE_TO_VNI |= {letter: form for form, letter in _VNI_SINGLES.items()
                    if letter not in "íìÍÌ"}


def _vni_form(match: re.Match[str]) -> str:
    form = match.group()
    letter = _VNI_PAIRS.get(form) or _VNI_SINGLES.get(form)
    if letter is not None:
        return letter
    # A mark byte that the letter before it does not take ("eê"): the byte is kept.
    return _VNI_SINGLES.get(form[0], form[0]) + form[1]


def from_vni_text(text: str) -> str:
    """Return ``text``, typed in VNI-Windows and read as Windows-1252, as Unicode NFC.

    Characters that the VNI reading does not produce (ASCII, or letters typed
    in a Unicode font) are kept as they are.
    """
    return unicodedata.normalize("NFC", _VNI_FORM.sub(_vni_form, text))


def to_vni_text(text: str) -> str:
    """Return ``text`` as a cell typed in a VNI font shows in Unicode software (Windows-1252)."""
    return "".join(_UNICODE_TO_VNI.get(char, char)
                   for char in unicodedata.normalize("NFC", text))


# Windows-1252 with the five bytes it leaves undefined read as Latin-1, so that any byte decodes.
_CP1252_TABLE = "".join(bytes([byte]).decode("cp1252", errors="ignore") or chr(byte)
                        for byte in range(256))
_CP1252_ENCODING = codecs.charmap_build(_CP1252_TABLE)


def _vni_encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
    return codecs.charmap_encode(to_vni_text(text), errors, _CP1252_ENCODING)[0], len(text)


def _vni_decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
    text, consumed = codecs.charmap_decode(data, errors, _CP1252_TABLE)
    return from_vni_text(text), consumed


class _VniIncrementalDecoder(codecs.IncrementalDecoder):
    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self.pending = ""

    def decode(self, data: Any, final: bool = False) -> str:
        text = self.pending + codecs.charmap_decode(data, self.errors, _CP1252_TABLE)[0]
        self.pending = ""
        # The last character of a chunk may take a mark byte from the next chunk.
        if not final and text and text[-1] in _VNI_BASES:
            text, self.pending = text[:-1], text[-1]
        return from_vni_text(text)

    def reset(self) -> None:
        self.pending = ""


class _VniIncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return _vni_encode(text, self.errors)[0]


_VNI_CODEC = codecs.CodecInfo(_vni_encode, _vni_decode, name=VNI_CODEC_NAME,
                              incrementaldecoder=_VniIncrementalDecoder,
                              incrementalencoder=_VniIncrementalEncoder)

# Syllables -----------------------------------------------------------------------------------

# One syllable without its tone mark, in lower case: an initial consonant, the vowels of
# Vietnamese spelling, and a final consonant. "gi" and "qu" may take the vowel of the initial.
_VOWELS = (
    "uyê", "uyu", "uya", "ươu", "ươi", "uôi", "uây", "oeo", "oay", "oao", "oai", "yêu", "iêu",
    "ưu", "ươ", "ưi", "ưa", "uô", "uơ", "uê", "uâ", "uy", "ui", "ua", "ôi", "ơi", "oo", "oi", "oe",
    "oă", "oa", "êu", "eo", "iu", "iê", "ia", "yê", "ây", "âu", "ay", "au", "ao", "ai",
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y",
)
_SYLLABLE = re.compile("(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
                       f"(?:{'|'.join(_VOWELS)})(?:ch|ng|nh|[cmnptk])?")  # -k: Đắk Lắk
# Central Highlands name prefixes that may be joined to the name after them, matched in any
# case: "K" and "H" ("KDăm", "HLinh"), "Y" and "R", "Nay" and "Ksor".
_NAME_PREFIXES = ("ksor", "nay", "k", "h", "y", "r")
# A capital consonant, or "Y", joined as a prefix to a capitalised name ("KDăm", "YBih").
_PREFIX_CAPITALS = frozenset("BCDĐGHKLMNPQRSTVXY")
# One-letter words in lower case that are not names that lost their capital.
_ONE_LETTER_WORDS = frozenset({"ở"})
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
    folded = name.replace("-", "").replace("_", "")
    if folded in ("tcvn3", "tcvn", "tcvn5712", "tcvn57121"):
        return _CODEC
    if folded in ("vni", "vniwindows"):
        return _VNI_CODEC
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
    """Tell whether ``text`` has a word whose capitals a TCVN3 capitals font lost.

    Such a word is in capitals with a lower-case toned letter. It has two
    capitals ("NGUYễN") or a capital after its first letter ("đứC", "HOà"),
    which Vietnamese spelling does not put inside a word. A Central Highlands
    name with a capital inside ("KDăm", "HLốp", "KSơr") is not counted (see
    ``_prefixed_name``). A one-letter word is counted only where its cell
    makes the lost capital plain (see ``_lone_letter_lost``).
    """
    words = [word for word in _SEPARATORS.split(text) if word]
    for word in words:
        if not any(not char.isascii() and char.islower() for char in word):
            continue
        capitals = [index for index, char in enumerate(word) if char.isascii() and char.isupper()]
        if (len(capitals) >= 2 or any(index > 0 for index in capitals)) and not _prefixed_name(word):
            return True
    return _lone_letter_lost(words)


def _prefixed_name(word: str) -> bool:
    """Tell whether ``word`` is a name prefix joined to a capitalised name, as in "KDăm".

    The prefix is one capital consonant or "Y" ("KDăm", "HLinh", "YBih"), or one of
    ``_NAME_PREFIXES`` in any case ("kDăm", "KsorĐơk"). The name after it is one capital
    and then small letters, at least one of them ASCII. A word in capitals typed in a
    .VnTimeH font has only capitals for its ASCII letters, so "THị" and "HOà" still count.

    NOTE: a word typed with a shifted second letter ("THảo" for "Thảo") passes as such a
    name, and a prefixed name with no ASCII small letter after its capital still counts.
    """
    lengths = [len(prefix) for prefix in _NAME_PREFIXES if word.casefold().startswith(prefix)]
    if word[:1] in _PREFIX_CAPITALS:
        lengths.append(1)
    for length in lengths:
        name, rest = word[length:length + 1], word[length + 1:]
        if (name.isupper() and rest.isalpha() and rest.islower()
                and any(char.isascii() for char in rest)):
            return True
    return False


def _lone_letter_lost(words: list[str]) -> bool:
    """Tell whether a one-letter word in lower case is among capitalised names ("ỷ Lan").

    A .VnTimeH font draws the small toned letter "ỷ" as "Ỷ", so a name typed in it
    converts to "ỷ Lan". Alone, or beside words in lower case ("ý kiến"), a
    one-letter word may be right, so it counts only when every other word of the cell
    starts with a capital. The preposition "ở" is left out, because notes and addresses
    put it between names ("Sinh ở Hà Nội").
    """
    named = [word for word in words if word[0].isalpha()]
    for index, word in enumerate(named):
        if len(word) != 1 or word.isascii() or not word.islower() or word in _ONE_LETTER_WORDS:
            continue
        others = named[:index] + named[index + 1:]
        if others and all(other[0].isupper() for other in others):
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


_CONVERTERS = {CODEC_NAME: from_tcvn3_text, VNI_CODEC_NAME: from_vni_text}
LEGACY_ENCODINGS = tuple(_CONVERTERS)


def convert_row(cells: list[str], encoding: str = CODEC_NAME) -> list[str]:
    """Return the cells of one row converted from ``encoding``, unless the row was typed in Unicode.

    A table typed in a legacy font may have a title, a header or a few rows
    typed in Unicode, such as "Tên" or "Mã HS" from a template, which converting
    would spoil ("Tờn", "Mó HS" from TCVN3; "Hoá" is "Hố" in VNI). A row in which
    no word is impossible as written is kept. In any other row, a cell with a
    character that Windows-1252 lacks ("ọ") is kept, and so is a cell that
    converting would give more impossible words.
    """
    convertible = [i for i, cell in enumerate(cells)
                   if not cell.isascii() and all(char in _ANSI_CHARS for char in cell)]
    if not any(impossible_words(cells[i]) for i in convertible):
        return cells
    convert = _CONVERTERS[encoding]
    converted = list(cells)
    for i in convertible:
        candidate = convert(cells[i])
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


def _best_reading(readings: dict[str, WordCounts], as_written: WordCounts) -> str | None:
    """Return the legacy encoding whose reading wins over the text as written, or ``None``.

    When both win, the one with fewer impossible words is taken, TCVN3 on a tie.
    """
    winners = [name for name in LEGACY_ENCODINGS if reading_wins(readings[name], as_written)]
    return min(winners, key=lambda name: readings[name].impossible, default=None)


def legacy_bytes_encoding(sample: bytes, other: str) -> str | None:
    """Return ``tcvn3`` or ``vni`` when the 8-bit ``sample`` reads as that code clearly better
    than as the codec ``other``, or ``None``."""
    as_written = WordCounts()
    as_written.add(unicodedata.normalize("NFC", sample.decode(other, errors="replace")))
    readings = {}
    for name in LEGACY_ENCODINGS:
        readings[name] = WordCounts()
        readings[name].add(sample.decode(name, errors="replace"))
    return _best_reading(readings, as_written)


class LegacyTextCheck:
    """A sample of a table's text cells, to decide whether they are TCVN3 or VNI read as Windows-1252."""

    def __init__(self) -> None:
        self.readings = {name: WordCounts() for name in LEGACY_ENCODINGS}
        self.as_written = WordCounts()

    def add(self, cells: Iterable[str]) -> None:
        for cell in cells:
            if cell and not cell.isascii():
                self.as_written.add(cell)
                for name, convert in _CONVERTERS.items():
                    self.readings[name].add(convert(cell))

    def encoding(self) -> str | None:
        """Return ``tcvn3`` or ``vni`` when the sample reads far better in that code, or ``None``."""
        return _best_reading(self.readings, self.as_written)
