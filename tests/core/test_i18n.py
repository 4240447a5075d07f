"""The translation catalogue: both languages complete, placeholders alike, keys used exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import PROJECT_ROOT
from gateway.i18n import LANGUAGES, catalogue, placeholders, set_language, translate


def test_languages_have_same_keys() -> None:
    vi, en = catalogue("vi"), catalogue("en")
    assert sorted(set(vi) - set(en)) == []
    assert sorted(set(en) - set(vi)) == []


def test_placeholders_match_across_languages() -> None:
    vi, en = catalogue("vi"), catalogue("en")
    different = {k for k in vi if placeholders(vi[k]) != placeholders(en.get(k, ""))}
    assert different == set()


def test_vietnamese_is_default() -> None:
    set_language(None)
    assert translate("place.row", row=3) == "dòng 3"
    assert translate("place.row", lang="en", row=3) == "row 3"


def test_missing_parameter_kept_visible() -> None:
    assert "{value}" in translate("mapping.date_invalid", lang="en", formats="YYYY-MM-DD")


def test_unknown_key_returned_as_is() -> None:
    assert translate("no.such.key") == "no.such.key"


# Keys written literally in the code: error keys and t()/translate() calls.
KEY_PATTERN = re.compile(
    r"""(?:Error|\bt|\btranslate|_notice|\bNotice)\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9_])["']"""
)


def _keys_in_code() -> set[str]:
    keys: set[str] = set()
    for folder in ("gateway", "adapters"):
        for path in Path(PROJECT_ROOT, folder).rglob("*.py"):
            keys.update(KEY_PATTERN.findall(path.read_text(encoding="utf-8")))
    return keys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_in_code_is_translated(lang: str) -> None:
    missing = sorted(k for k in _keys_in_code() if k not in catalogue(lang))
    assert missing == []
