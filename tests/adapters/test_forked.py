"""Work run in a forked process: its value, its gateway error, or its crash come back."""

from __future__ import annotations

import os

import pytest

from adapters.common.forked import Forked, ForkedFailed
from gateway.errors import InputError


def test_forked_returns_value():
    parent = os.getpid()

    forked = Forked(lambda: os.getpid())

    assert forked.result() != parent


def test_forked_raises_gateway_error():
    def fail() -> None:
        raise InputError("csv.empty", file="a.csv")

    forked = Forked(fail)

    with pytest.raises(InputError) as raised:
        forked.result()
    assert raised.value.key == "csv.empty"
    assert raised.value.params == {"file": "a.csv"}


def test_forked_crash_becomes_forked_failed():
    def crash() -> None:
        raise ZeroDivisionError("boom")

    forked = Forked(crash)

    with pytest.raises(ForkedFailed, match="ZeroDivisionError"):
        forked.result()
