"""Development keys: created once, owner-only, renewed before they expire."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from gateway.clock import FakeClock, use_clock, utcnow
from gateway.crypto import ensure_dev_keys


def test_keys_created_with_owner_only_mode(tmp_path: Path) -> None:
    paths = ensure_dev_keys(tmp_path)
    assert paths["created"] == "true"
    mode = stat.S_IMODE(Path(paths["key"]).stat().st_mode)
    assert mode == 0o600


def test_existing_keys_kept(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path)
    before = Path(tmp_path / "gateway-dev.key.pem").read_bytes()
    assert ensure_dev_keys(tmp_path)["created"] == "false"
    assert Path(tmp_path / "gateway-dev.key.pem").read_bytes() == before


def test_expiring_certificate_renewed(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path)
    with use_clock(FakeClock(utcnow() + timedelta(days=340))):
        assert ensure_dev_keys(tmp_path)["created"] == "true"
