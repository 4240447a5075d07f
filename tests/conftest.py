"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """Return ``../shared/realdata`` beside the project root.

    Skips when the folder is absent (a fresh clone has none), but fails under
    CI, where the folder is always laid out.
    """
    path = PROJECT_ROOT.parent / "shared" / "realdata"
    if not path.is_dir():
        reason = f"real input files not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path
