"""Bulk statement helpers: IN lists padded to a few lengths."""

from __future__ import annotations

import pytest

from gateway.store.bulk import IN_LIST_MAX, in_lists, padded
from tests.support.store import StoreHandle


@pytest.mark.parametrize(("count", "size"), [(0, 16), (1, 16), (16, 16), (17, 32), (1000, 1024),
                                             (1024, 1024), (5000, 8192)])
def test_padded_to_power_of_two(count: int, size: int) -> None:
    values = list(range(count))
    result = padded(values)
    assert len(result) == size
    assert result[:count] == values
    assert set(result[count:]) <= {None}


def test_in_lists_lengths_share_text() -> None:
    texts = {next(in_lists(list(range(count))))[0] for count in range(900, 1000)}
    assert len(texts) == 1


def test_in_lists_stay_within_parameter_limit() -> None:
    lists = list(in_lists(list(range(3 * IN_LIST_MAX + 5))))
    assert [len(params) for _, params in lists] == [IN_LIST_MAX] * 3 + [16]
    assert [v for _, params in lists for v in params if v is not None] == list(range(3 * IN_LIST_MAX + 5))


def test_in_lists_match_only_values(store: StoreHandle) -> None:
    marks, params = next(in_lists(["a", "c"]))
    cursor = store.db.cursor()
    sql = f"SELECT v FROM (SELECT 'a' AS v UNION SELECT 'b' UNION SELECT 'c') t WHERE v IN ({marks})"
    if store.engine == "postgresql":
        sql = sql.replace("?", "%s")
    cursor.execute(sql, params)
    assert sorted(row[0] for row in cursor.fetchall()) == ["a", "c"]
