"""The translation catalogue: both languages complete, placeholders alike, keys used exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from adapters.table.blocks import BLOCK_COLUMN, SHEET_COLUMN
from gateway import PROJECT_ROOT
from gateway.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    RENAMED_KEYS,
    catalogue,
    lookup,
    placeholders,
    plural_forms,
    set_language,
    translate,
)
from gateway.mapping.compiler import column_groups, is_stored
from gateway.mapping.spec import read_spec, shipped_mapping_files


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


@pytest.mark.parametrize(("count", "expected"), [(0, "0 newest runs:"), (1, "1 newest run:"),
                                                 (2, "2 newest runs:"), (21, "21 newest runs:")])
def test_plural_form_english(count: int, expected: str) -> None:
    assert translate("runs.list_header", lang="en", count=count) == expected


@pytest.mark.parametrize("count", [1, 2])
def test_plural_form_vietnamese(count: int) -> None:
    assert translate("runs.list_header", lang="vi", count=count) == f"{count} lượt chạy gần nhất:"


def test_plural_without_count_uses_many_form() -> None:
    assert translate("runs.list_header", lang="en") == "{count} newest runs:"
    assert translate("runs.list_header", lang="en", count="3") == "3 newest runs:"
    assert catalogue("en")["runs.list_header"] == "{count} newest runs:"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_entries_have_language_forms(lang: str) -> None:
    expected = get_plural(lang).num_plurals
    wrong = {key: len(forms) for key, forms in plural_forms(lang).items() if len(forms) != expected}
    assert wrong == {}
    assert set(plural_forms("vi")) == set(plural_forms("en"))


# Catalogues whose counted English messages must be plural entries, checked by the tests below.
PLURAL_CATALOGUES = ["cli.po", "core.po", "schema.po", "adapters.po", "table.po", "demo.po"]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", PLURAL_CATALOGUES)
def test_plural_forms_header_matches_babel(lang: str, name: str) -> None:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / name
    # Babel fills in the language's rule when the header is missing, so read the line itself.
    written = re.search(r'^"Plural-Forms: (.*)\\n"$', path.read_text(encoding="utf-8"), re.MULTILINE)
    assert written is not None
    assert written.group(1) == get_plural(lang).plural_forms


# An English noun in the plural right after a count: "{count} newest runs", "{count} rows".
COUNTED_PLURAL = re.compile(r"\{count\} (?:[a-z]+ )?[a-z]+s\b|\(s\)")


@pytest.mark.parametrize("name", PLURAL_CATALOGUES)
def test_counted_english_nouns_are_plural_entries(name: str) -> None:
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / name).open("rb") as handle:
        plain = {str(m.id): str(m.string) for m in read_po(handle, locale="en")
                 if m.id and not m.pluralizable}
    assert sorted(key for key, text in plain.items() if COUNTED_PLURAL.search(text)) == []


@pytest.mark.parametrize(("key", "file", "count", "expected"), [
    ("oneroster.roles_user_unknown", "roles.csv", 1,
     "1 row of roles.csv names a user that is not among the readable rows of users.csv, "
     "so it was ignored."),
    ("oneroster.roles_user_unknown", "roles.csv", 2,
     "2 rows of roles.csv name a user that is not among the readable rows of users.csv, "
     "so they were ignored."),
    ("table.html_tables_skipped", "list.html", 1,
     "1 table in file list.html has no header row and was skipped "
     "(usually a title or signature table)."),
    ("table.html_tables_skipped", "list.html", 2,
     "2 tables in file list.html have no header row and were skipped "
     "(usually title or signature tables)."),
])
def test_notice_plural_english(key: str, file: str, count: int, expected: str) -> None:
    assert translate(key, lang="en", count=count, file=file) == expected


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


# Private fields and an adapter's own columns in messages ----------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    pytest.param("vi", "trường dữ liệu tên lớp", id="vi"),
    pytest.param("en", "field class name", id="en"),
])
def test_private_field_shown_by_text(lang: str, expected: str) -> None:
    assert translate("place.field", lang=lang, field="_class_name") == expected


@pytest.mark.parametrize("field", ["_phone_checked", "address._house"])
def test_unknown_private_field_gets_general_text(field: str) -> None:
    text = translate("mapping.required_missing", lang="en", field=field, column="SĐT")

    assert field not in text
    assert "working value that the mapping computes" in text


@pytest.mark.parametrize(("lang", "field", "expected"), [
    ("en", "birth_date", "field birth date (birth_date)"),
    ("vi", "birth_date", "trường dữ liệu ngày sinh (birth_date)"),
    ("vi", "address.detail", "trường dữ liệu số nhà, đường, thôn/ấp của địa chỉ (address.detail)"),
    ("vi", "status_history.0.status", "trường dữ liệu trạng thái phân lớp (status_history.0.status)"),
    ("vi", "person_ref", "trường dữ liệu học sinh hoặc cán bộ được xếp vào lớp (person_ref)"),
    ("en", "person_ref", "field student or staff member enrolled in the class (person_ref)"),
])
def test_canonical_field_named_in_words(lang: str, field: str, expected: str) -> None:
    assert translate("place.field", lang=lang, field=field) == expected


def test_field_without_words_keeps_name() -> None:
    assert translate("place.field", lang="en", field="x_unknown") == "field x_unknown"


def test_every_schema_field_has_words() -> None:
    from gateway.validation import load_schema_files  # late: it reads the schemas

    schemas = load_schema_files(PROJECT_ROOT / "mappings" / "schemas")
    fields = {name for schema in schemas.values() for name in schema.get("properties", {})}
    for lang in ("vi", "en"):
        missing = sorted(f for f in fields if lookup(f"field_name.{f}", lang) is None)
        assert missing == [], lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_field_words_tell_fields_apart(lang: str) -> None:
    # One text for two fields ("ngày bắt đầu" for begin_date and start_date) leaves the admin
    # guessing which field a message means.
    labels: dict[str, list[str]] = {}
    for key, text in catalogue(lang).items():
        if key.startswith("field_name."):
            labels.setdefault(text, []).append(key)
    shared = {text: keys for text, keys in labels.items() if len(keys) > 1}

    assert shared == {}


def test_virtual_columns_in_list_shown_by_text() -> None:
    text = translate("mapping.required_missing_first_virtual", lang="en", field="name",
                     columns="Lớp, _block, _sheet")

    assert "_block" not in text
    assert "_sheet" not in text
    assert 'Lớp, label row above the pupils (such as "Lớp: 6A1"), sheet title.' in text


def test_column_list_with_comma_in_name_kept() -> None:
    text = translate("mapping.required_missing_first", lang="vi", field="x",
                     columns="Số nhà, đường, _sheet")

    assert "Số nhà, đường, tên trang tính" in text


def test_unknown_underscore_column_keeps_name() -> None:
    # A file's own header may start with "_"; only the adapters' columns have a text.
    assert translate("place.column", lang="en", column="_id") == "column _id"


def test_mapping_file_message_keeps_private_name() -> None:
    text = translate("error.mapping_field_unknown", lang="en", mapping="school-export/enrollment/v3",
                     field="_class_name", name="_name_in_label")

    assert "field _class_name:" in text


def _shipped_virtual_names() -> set[str]:
    names = {BLOCK_COLUMN, SHEET_COLUMN}
    for path in shipped_mapping_files():
        fields = read_spec(path).document["fields"]
        names.update(name for name in fields if not is_stored(name))
        names.update(column for field in fields.values() for group in column_groups(field)
                     for column in group if column.startswith("_"))
    return names


@pytest.mark.parametrize("lang", LANGUAGES)
def test_shipped_virtual_names_have_text(lang: str) -> None:
    names = _shipped_virtual_names()
    missing = sorted(name for name in names if f"virtual_name.{name}" not in catalogue(lang))

    assert "_class_name" in names
    assert missing == []


@pytest.mark.parametrize(("lang", "title"), [("vi", "học sinh"), ("en", "student")])
def test_entity_named_by_title(lang: str, title: str) -> None:
    text = translate("ingest.reference_unknown", lang, field="person_ref", value="u1", target="student")
    assert title in text
    if lang == "vi":
        assert "student" not in text


def test_stored_reference_rejection_without_table_names_file() -> None:
    text = translate("ingest.reference_rejected", lang="en", field="person_ref", target="student",
                     value="u1", target_file="users.csv", target_row=3)

    assert "(users.csv, row 3)" in text


# Renamed keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_renamed_key_shows_new_text(lang: str) -> None:
    # A rejection stored under the old key before the rename.
    params = {"column": "Họ và tên", "chars": 120, "limit": 100}

    old = translate("csv.cell_too_long", lang=lang, **params)

    assert old == translate("table.cell_too_long", lang=lang, **params)
    assert "Họ và tên" in old
    assert "120" in old


@pytest.mark.parametrize("lang", LANGUAGES)
def test_renamed_keys_left_catalogue(lang: str) -> None:
    texts = catalogue(lang)

    assert [old for old in RENAMED_KEYS if old in texts] == []
    assert [new for new in RENAMED_KEYS.values() if new not in texts] == []


def test_stored_formula_notice_without_table_names_sheet() -> None:
    # Notices stored before the message named {table} have file and sheet only.
    text = translate("table.formula_not_calculated", lang="en", file="ds.xlsx", sheet="9A1",
                     count=3, cell="B2")

    assert text.startswith("3 cells of ds.xlsx [9A1] hold a formula")
