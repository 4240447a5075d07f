"""The translation catalogue: every text a person reads comes from here.

Catalogues are gettext ``.po`` files under ``gateway/locale/<lang>/LC_MESSAGES``,
one file per area of the product (``core.po``, ``oneroster.po``), read with Babel
at first use and merged, so translators can use their usual tools and no
compile step is needed. Message ids are stable keys (``ingest.summary.title``),
not English sentences, so both languages are translations of equal rank.
Vietnamese is the default language.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language = DEFAULT_LANGUAGE


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of messages in this process and return it.

    An unknown or empty value keeps the default, Vietnamese.
    """
    global _language
    _language = normalise_language(lang)
    return _language


def get_language() -> str:
    return _language


def normalise_language(lang: str | None) -> str:
    if not lang:
        return DEFAULT_LANGUAGE
    code = lang.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Return the messages of ``lang`` as a key-to-text dictionary."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            parsed = read_po(handle, locale=lang)
        messages.update({str(m.id): str(m.string) for m in parsed if m.id and m.string})
    return messages


class _KeepMissing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def translate(key: str, lang: str | None = None, **params: object) -> str:
    """Return the text of ``key`` in ``lang`` with ``params`` filled in.

    Falls back to the other language, then to the key itself, so a missing
    translation shows up as a readable key instead of an exception.
    """
    lang = normalise_language(lang or _language)
    text = catalogue(lang).get(key)
    if text is None:
        for other in LANGUAGES:
            text = catalogue(other).get(key)
            if text is not None:
                break
    if text is None:
        return key
    return string.Formatter().vformat(text, (), _KeepMissing(params))


t = translate


def placeholders(text: str) -> set[str]:
    """Return the names of the ``{placeholders}`` in a catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
