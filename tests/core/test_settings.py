"""Settings: defaults, overrides, secret files, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import settings as settings_module
from gateway.errors import ConfigurationError


def test_defaults_load_with_sqlite_under_home(tmp_path: Path) -> None:
    settings = settings_module.load(environ={"GATEWAY_HOME": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    assert settings.lang == "vi"


def test_environment_overrides_nested_values(tmp_path: Path) -> None:
    environ = {"GATEWAY_HOME": str(tmp_path), "GATEWAY_GUARD__MAX_CHANGE_RATIO": "0.5",
               "GATEWAY_RUNS__CHUNK_SIZE": "7", "GATEWAY_LOCALE__LANG": "en"}
    settings = settings_module.load(environ=environ)
    assert settings.section("guard")["max_change_ratio"] == 0.5
    assert settings.section("runs")["chunk_size"] == 7
    assert settings.lang == "en"


def test_secret_read_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "store-url"
    secret.write_text("postgresql://gateway:s3cret@127.0.0.1:5432/gw\n", encoding="utf-8")
    environ = {"GATEWAY_HOME": str(tmp_path), "GATEWAY_STORE__URL_FILE": str(secret)}
    settings = settings_module.load(environ=environ)
    assert settings.store_url == "postgresql://gateway:s3cret@127.0.0.1:5432/gw"


def test_local_file_overrides_defaults(tmp_path: Path) -> None:
    local = tmp_path / "local.toml"
    local.write_text('[runs]\nchunk_size = 11\n', encoding="utf-8")
    settings = settings_module.load(environ={"GATEWAY_HOME": str(tmp_path), "GATEWAY_CONFIG": str(local)})
    assert settings.section("runs")["chunk_size"] == 11


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    environ = {
        "GATEWAY_HOME": str(tmp_path),
        "GATEWAY_RUNS__CHUNK_SIZE": "0",
        "GATEWAY_GUARD__MAX_CHANGE_RATIO": "2",
        "GATEWAY_LOCALE__LANG": "fr",
        "GATEWAY_STORE__URL": "mysql://x",
    }
    with pytest.raises(ConfigurationError) as caught:
        settings_module.load(environ=environ)
    problems = caught.value.problems
    assert len(problems) == 4
    assert any(p.startswith("runs.chunk_size") for p in problems)
    assert any(p.startswith("guard.max_change_ratio") for p in problems)
    assert any(p.startswith("locale.lang") for p in problems)
    assert any(p.startswith("store.url") for p in problems)


def test_unknown_setting_rejected(tmp_path: Path) -> None:
    environ = {"GATEWAY_HOME": str(tmp_path), "GATEWAY_RUNS__CHUNK_SIZ": "5"}
    with pytest.raises(ConfigurationError) as caught:
        settings_module.load(environ=environ)
    assert "chunk_siz" in caught.value.message("en")


def test_missing_secret_file_reported(tmp_path: Path) -> None:
    environ = {"GATEWAY_HOME": str(tmp_path), "GATEWAY_STORE__URL_FILE": str(tmp_path / "absent")}
    with pytest.raises(ConfigurationError) as caught:
        settings_module.load(environ=environ)
    assert any("GATEWAY_STORE__URL_FILE" in p for p in caught.value.problems)
