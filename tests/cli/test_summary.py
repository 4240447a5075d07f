"""`gateway summary`: which case an empty summary is, in the JSON document and in text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.render import summary_lines
from gateway.i18n import set_language
from gateway.ingest import service
from tests.support import oneroster as pkg
from tests.support.store import StoreHandle


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)


def ingest(store: StoreHandle, tmp_path: Path, source: str) -> None:
    folder = pkg.write_package(tmp_path / source, pkg.city(students=2))
    service.ingest(store.db, store.settings, folder, "oneroster", source)


def test_summary_of_empty_store(store: StoreHandle) -> None:
    document, lines = summary_lines(None)

    assert document["source"] is None
    assert document["source_known"] is None
    assert document["sources"] == []
    assert document["entities"] == {}
    assert "No records yet" in lines[1]


def test_summary_of_unknown_source_lists_known(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, tmp_path, "school-b")
    ingest(store, tmp_path, "school-a")

    document, lines = summary_lines("school-c")

    assert document["source"] == "school-c"
    assert document["source_known"] is False
    assert document["sources"] == ["school-a", "school-b"]
    assert document["entities"] == {}
    assert document["schools"] == []
    assert lines[1] == "  The store has no source named school-c. Sources: school-a, school-b."


def test_summary_of_known_source(store: StoreHandle, tmp_path: Path) -> None:
    ingest(store, tmp_path, "school-a")

    document, _ = summary_lines("school-a")

    assert document["source"] == "school-a"
    assert document["source_known"] is True
    assert document["sources"] == ["school-a"]
    assert document["entities"]["student"] == 2
