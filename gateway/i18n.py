"""The translation catalogue: every text a person reads comes from here.

Catalogues are gettext ``.po`` files under ``gateway/locale/<lang>/LC_MESSAGES``,
one file per area of the product (``core.po``, ``oneroster.po``), read with Babel
at first use and merged, so translators can use their usual tools and no
compile step is needed. Message ids are stable keys (``ingest.summary.title``),
not English sentences, so both languages are translations of equal rank.
Vietnamese is the default language.

Plural forms use gettext's own entries. A text whose wording depends on a
number is written with ``msgid_plural`` (the same key again) and one
``msgstr[i]`` per plural form of the language::

    msgid "runs.list_header"
    msgid_plural "runs.list_header"
    msgstr[0] "{count} newest run:"
    msgstr[1] "{count} newest runs:"

The ``count`` parameter picks the form, through the language's gettext plural
rule as Babel's CLDR data gives it: English has two forms (``n != 1``),
Vietnamese one, so its entries have ``msgstr[0]`` only. A text that names
several numbers is worded so that no noun depends on them
(``Rows deleted: {quarantine} rejected, {staged} staged``).
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from gateway.errors import table_label

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


@dataclass(frozen=True)
class _Messages:
    """One language's catalogue: plain texts, plural forms and the plural rule."""

    texts: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    plural_index: Callable[[int], int]


@cache
def _messages(lang: str) -> _Messages:
    texts: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            parsed = read_po(handle, locale=lang)
        for message in parsed:
            if not message.id:
                continue
            if message.pluralizable:
                forms = tuple(str(form) for form in message.string or ())
                if all(forms):
                    key = str(message.id[0])
                    plurals[key] = forms
                    texts[key] = forms[-1]
            elif message.string:
                texts[str(message.id)] = str(message.string)
    return _Messages(texts, plurals, gettext.c2py(get_plural(lang).plural_expr))


def catalogue(lang: str) -> dict[str, str]:
    """Return the messages of ``lang`` as a key-to-text dictionary.

    A plural entry appears with its last form, the one for many.
    """
    return _messages(lang).texts


def plural_forms(lang: str) -> dict[str, tuple[str, ...]]:
    """Return the plural entries of ``lang``: key to its forms, in ``msgstr[i]`` order."""
    return _messages(lang).plurals


RENAMED_KEYS = {"csv.cell_too_long": "table.cell_too_long"}
"""Message keys that were renamed, old to new, with the same parameters.

Quarantine rows and run reports keep the key they were stored with, so ``lookup`` reads an
old key as its new one and those rows still show a message, not a bare key.
"""


def lookup(key: str, lang: str | None = None, count: object = None) -> str | None:
    """Return the unformatted text of ``key``, or None when no language has it.

    A key of ``RENAMED_KEYS`` gives the text of its new key. Falls back to the
    other language. For a plural entry an integer ``count`` picks the form, and
    any other value gives the form for many.
    """
    key = RENAMED_KEYS.get(key, key)
    lang = normalise_language(lang or _language)
    for candidate in (lang, *(other for other in LANGUAGES if other != lang)):
        messages = _messages(candidate)
        forms = messages.plurals.get(key)
        if forms and isinstance(count, int) and not isinstance(count, bool):
            index = messages.plural_index(count)
            return forms[min(index, len(forms) - 1)]
        text = messages.texts.get(key)
        if text is not None:
            return text
    return None


class _KeepMissing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


COUNTED_MESSAGES = {"table.rows_skipped": ("footers", "headers", "numbers")}
"""Messages that list counts, with their count parameters in the order shown.

Each count has its own text, ``<key>.<parameter>``, and the message's own text
gets the counts that are not zero, joined, as its ``detail``.
"""


NAME_PARAMS = {"field": "field", "parent_field": "field", "column": "column", "columns": "columns",
               "differing_fields": "fields"}
"""Parameters that name a mapping field or a column, with the kind of name each holds.

A private field of a mapping (a part of its dotted path starts with "_", as in
``_class_name``) and a column that an adapter adds to every row (``_block``,
``_sheet``) mean nothing to the person who fixes the file. ``translate`` shows
the text of ``virtual_name.<name>`` in their place, and the text of
``virtual_name.private_field`` for a private field without one of its own. A
column whose name starts with "_" but has no text keeps its name, because a
file's own header may start with "_". ``columns`` is a list of column names
joined with ", ", and each name in it is described alone. ``differing_fields`` is such a
list of field names.
"""

# Messages about a mapping file itself keep the names, because their reader edits that file,
# where each field has its own name.
_RAW_NAME_MESSAGES = "error.mapping_"


def translate(key: str, lang: str | None = None, **params: object) -> str:
    """Return the text of ``key`` in ``lang`` with ``params`` filled in.

    Falls back to the other language, then to the key itself, so a missing
    translation shows up as a readable key instead of an exception. The
    ``count`` parameter picks the plural form of a plural entry. A ``problem`` parameter of
    the form ``{"reason": key, "params": {...}}`` is translated first. A message of
    ``COUNTED_MESSAGES`` leaves out its counts of zero. The parameters of
    ``NAME_PARAMS`` show a private field or an adapter's own column by its text.
    An ``accepted_from`` code list ("gender@1") fills ``{accepted}`` with the values
    it accepts in ``lang``: its names, or its codes when ``accepted_by`` is "code".
    """
    counted = COUNTED_MESSAGES.get(key)
    if counted:
        parts = [translate(f"{key}.{name}", lang, count=params[name])
                 for name in counted if params.get(name)]
        params = {**params, "detail": ", ".join(parts)}
    problem = params.get("problem")
    if isinstance(problem, Mapping) and "reason" in problem:
        # A message that quotes another one (a row's problem) stores its key and parameters.
        quoted = translate(str(problem["reason"]), lang, **dict(problem.get("params") or {}))
        params = {**params, "problem": quoted}
    if "target_file" in params and "target_table" not in params:
        # Rejections stored before ``target_table`` (file and sheet) name the file alone.
        params = {**params, "target_table": params["target_file"]}
    if key == "table.formula_not_calculated" and "table" not in params:
        # Notices stored before the text named ``table`` have ``file`` and ``sheet``.
        sheet = params.get("sheet")
        params = {**params, "table": table_label(str(params.get("file", "")),
                                                 str(sheet) if sheet else None)}
    if key == "ingest.field_dropped" and "kept" not in params:
        # Runs stored before a record kept its stored value have no ``kept``: their rows
        # were stored without the field, as their own text states.
        key = "ingest.field_dropped_without_kept"
    if not key.startswith(_RAW_NAME_MESSAGES):
        params = _describe_names(params, lang)
    text = lookup(key, lang, params.get("count"))
    if text is None:
        return key
    return string.Formatter().vformat(text, (), _KeepMissing(params))


t = translate


def field_text(name: str, lang: str | None = None) -> str:
    """Return how people read the canonical field ``name``: in words, with the name in brackets."""
    return _describe_name(name, "field", lang)


def _describe_name(name: str, kind: str, lang: str | None) -> str:
    """Return how messages to people show the field or column ``name``.

    ``kind`` is ``"field"`` or ``"column"``. A private field or an adapter's own
    column is shown by its catalogue text, as ``NAME_PARAMS`` describes. A
    canonical field with a ``field_name.<name>`` text is shown by that text with
    its name in brackets. Any other name is returned as it is.
    """
    text = lookup(f"virtual_name.{name}", lang) if name.startswith("_") else None
    if text is not None:
        return text
    if kind != "field":
        return name
    if any(part.startswith("_") for part in name.split(".")):
        return lookup("virtual_name.private_field", lang) or name
    # A canonical field is named in words, with its name in brackets for the admin who reads
    # the mapping: "ngày sinh (birth_date)". Item numbers of a list ("roles.0.role") are
    # left out of the lookup, and a part of a list item is named by its last part.
    parts = [part for part in name.split(".") if not part.isdigit()]
    label = lookup(f"field_name.{'.'.join(parts)}", lang) or lookup(f"field_name.{parts[-1]}", lang)
    return f"{label} ({name})" if label else name


ENTITY_PARAMS = ("target", "entities")
"""Parameters that name entities in the middle of a message (``student``, or ``class, student``).

``translate`` shows each by its title in the message's language, in lower case ("học sinh"),
so that a Vietnamese message does not carry the English name.
"""


def _entity_titles(value: str, lang: str | None) -> str:
    from gateway.entities import load_entities  # late: entities reads schemas, which use i18n

    entities = load_entities()
    language = lang or get_language()
    names = []
    for name in value.split(", "):
        entity = entities.get(name)
        title = entity.title.get(language) if entity else None
        names.append(title[:1].lower() + title[1:] if title else name)
    return ", ".join(names)


def _accepted_values(label: str, by: object, lang: str | None) -> str:
    """Return the values that code list ``label`` ("gender@1") accepts, joined: names, or codes.

    A name is given in ``lang``, else in Vietnamese. A list that no longer loads is named by its label.
    """
    from gateway.codelists import get_codelist  # late: gateway.codelists imports this module
    from gateway.errors import GatewayError

    name, _, version = label.partition("@")
    try:
        codelist = get_codelist(name, int(version) if version.isdigit() else None)
    except GatewayError:
        return label
    if by == "code":
        return ", ".join(codelist.codes)
    language = lang or get_language()
    return ", ".join(codelist.name_of(code, language) or code for code in codelist.codes)


def _describe_names(params: dict[str, object], lang: str | None) -> dict[str, object]:
    described = dict(params)
    accepted_from = params.get("accepted_from")
    if isinstance(accepted_from, str) and accepted_from:
        described["accepted"] = _accepted_values(accepted_from, params.get("accepted_by"), lang)
    for param in ENTITY_PARAMS:
        value = params.get(param)
        if isinstance(value, str) and value:
            described[param] = _entity_titles(value, lang)
    for param, kind in NAME_PARAMS.items():
        value = params.get(param)
        if not isinstance(value, str) or not value or (kind not in ("field", "fields") and "_" not in value):
            continue
        if kind in ("columns", "fields"):
            names = value.split(", ")
            each = "column" if kind == "columns" else "field"
            described[param] = ", ".join(_describe_name(name, each, lang) for name in names)
        else:
            described[param] = _describe_name(value, kind, lang)
    return described


def placeholders(text: str) -> set[str]:
    """Return the names of the ``{placeholders}`` in a catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
