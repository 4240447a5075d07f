"""The adapter contract, checked on every registered adapter.

Each adapter class provides ``write_sample(directory) -> Path``, a classmethod
that writes a small input of its product (with the quirks it handles) and
returns the path to pass to ``open``. It may also set ``sample_secrets``: the
values the sample plants in never-kept columns, which must not appear in any
cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.base import Adapter, Limits, Notice, Package, Scope, SourceRow, Stream
from adapters.registry import ADAPTERS, get_adapter
from gateway.errors import GatewayError, InputError, RowError
from gateway.i18n import LANGUAGES, catalogue, placeholders, translate
from gateway.text import clean, match_key

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADAPTER_KEYS = sorted(ADAPTERS)


def sample_path(adapter: Adapter, directory: Path) -> Path:
    writer = getattr(type(adapter), "write_sample", None)
    if writer is None:
        pytest.fail(f"adapter {adapter.key!r} has no write_sample(directory) classmethod")
    return Path(writer(directory))


StreamRows = list[tuple[Stream, list[SourceRow]]]


def read_sample(adapter: Adapter, directory: Path) -> tuple[Package, StreamRows]:
    read: StreamRows = []
    with adapter.open(sample_path(adapter, directory), Limits()) as package:
        for stream in package.streams():
            read.append((stream, list(stream.rows)))
    return package, read


def assert_translated(error: GatewayError) -> None:
    for lang in LANGUAGES:
        assert error.key in catalogue(lang), f"{error.key} missing in {lang}"
        assert "{" not in translate(error.key, lang=lang, **error.params), (error.key, lang)


@pytest.fixture(params=ADAPTER_KEYS)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return get_adapter(request.param)


def test_adapter_key_matches_registry(adapter: Adapter):
    assert adapter.key in ADAPTERS
    assert all(key == match_key(key) for key in adapter.never_keep)


def test_sample_streams_have_names_and_modes(adapter: Adapter, tmp_path: Path):
    package, read = read_sample(adapter, tmp_path)

    assert read, "the sample yields no stream"
    for stream, _ in read:
        assert stream.name
        assert stream.file
        assert stream.mode in ("bulk", "delta")
        assert isinstance(stream.scope, Scope)
        assert stream.headers
        assert all(isinstance(header, str) and header for header in stream.headers)
        assert stream.key_column is None or stream.key_column in stream.headers
    assert isinstance(package.description, dict)


def test_sample_cells_are_clean_text(adapter: Adapter, tmp_path: Path):
    _, read = read_sample(adapter, tmp_path)

    for stream, rows in read:
        assert rows, f"stream {stream.name} of the sample has no rows"
        for row in rows:
            assert isinstance(row, SourceRow)
            assert (row.cells is None) != (row.error is None), (stream.name, row.line)
            if row.cells is None:
                continue
            assert len(row.cells) == len(stream.headers), (stream.name, row.line)
            for value in row.cells:
                assert isinstance(value, str), (stream.name, row.line, type(value))
                assert value == clean(value), (stream.name, row.line)


def test_sample_rows_carry_line_numbers(adapter: Adapter, tmp_path: Path):
    _, read = read_sample(adapter, tmp_path)

    for stream, rows in read:
        lines = [row.line for row in rows]
        assert all(isinstance(line, int) and line >= 1 for line in lines), stream.name
        assert lines == sorted(set(lines)), stream.name


def test_sample_never_kept_columns_absent(adapter: Adapter, tmp_path: Path):
    secrets = getattr(type(adapter), "sample_secrets", frozenset())

    _, read = read_sample(adapter, tmp_path)

    for stream, rows in read:
        assert not [h for h in stream.headers if match_key(h) in adapter.never_keep], stream.name
        for row in rows:
            for value in row.cells or []:
                assert not any(secret in value for secret in secrets), (stream.name, row.line)


def test_sample_notices_and_errors_translated(adapter: Adapter, tmp_path: Path):
    package, read = read_sample(adapter, tmp_path)

    for notice in package.notices:
        assert isinstance(notice, Notice)
        assert notice.level in ("warning", "error")
        assert_translated(notice.error)
    for _, rows in read:
        for row in rows:
            if row.error is not None:
                assert isinstance(row.error, RowError)
                assert_translated(row.error)


def test_missing_input_raises_input_error(adapter: Adapter, tmp_path: Path):
    with pytest.raises(InputError) as raised, adapter.open(tmp_path / "does-not-exist", Limits()):
        pass

    assert_translated(raised.value)


# Catalogue ------------------------------------------------------------------

_ADAPTER_AREAS = ("csv", "archive", "oneroster")
_KEY_LITERAL = re.compile(r"[\"']((?:" + "|".join(_ADAPTER_AREAS) + r")\.[a-z_]+)[\"']")
# Literals that look like message keys but are data: OneRoster manifest property names.
_NOT_MESSAGE_KEYS = {"oneroster.version"}


def adapter_keys(lang: str) -> dict[str, str]:
    texts = catalogue(lang)
    return {key: text for key, text in texts.items() if key.split(".")[0] in _ADAPTER_AREAS}


def test_catalogue_languages_have_same_keys_and_placeholders():
    vi, en = adapter_keys("vi"), adapter_keys("en")

    assert sorted(vi) == sorted(en)
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_message_key_in_adapters_is_translated():
    used = set()
    for path in (PROJECT_ROOT / "adapters").rglob("*.py"):
        used |= set(_KEY_LITERAL.findall(path.read_text(encoding="utf-8")))
    used -= _NOT_MESSAGE_KEYS

    assert used, "no message key found in adapters/"
    for lang in LANGUAGES:
        missing = sorted(key for key in used if key not in catalogue(lang))
        assert missing == [], lang
