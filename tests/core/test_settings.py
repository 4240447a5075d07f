"""Settings: defaults, overrides, secret files, and every problem reported at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway import settings as settings_module
from gateway.errors import ConfigurationError
from gateway.i18n import catalogue, set_language
from gateway.validation import TYPE_MESSAGE_TYPES


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


# -- problems in the catalogue's words -----------------------------------------------------------

# English texts of jsonschema's own messages, which a settings problem must never show.
JSONSCHEMA_WORDS = ("is not of type", "Additional properties", "does not match", "is not one of",
                    "is less than", "is greater than", "is a required property", "is not a '")


@pytest.fixture
def language() -> Iterator[Callable[[str], None]]:
    yield set_language
    set_language(None)


def problems_of(tmp_path: Path, toml: str) -> list[str]:
    local = tmp_path / "local.toml"
    local.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        settings_module.load(environ={"GATEWAY_HOME": str(tmp_path), "GATEWAY_CONFIG": str(local)})
    assert caught.value.key == "error.settings_invalid"
    return caught.value.problems


# (TOML, English problem, Vietnamese problem): one case per kind of schema error.
CASES = {
    "type integer": (
        '[runs]\nchunk_size = "abc"\n',
        'runs.chunk_size must be a whole number, but its value is "abc". Write a whole number '
        "without quotes or a decimal part.",
        'runs.chunk_size phải là số nguyên, nhưng giá trị là "abc". Hãy ghi một số nguyên, không có '
        "dấu ngoặc kép và không có phần thập phân.",
    ),
    "type boolean": (
        '[runs]\nread_ahead = "yes"\n',
        'runs.read_ahead must be true or false, but its value is "yes". Write true or false, '
        "without quotes.",
        'runs.read_ahead phải là true hoặc false, nhưng giá trị là "yes". Hãy ghi true hoặc false, '
        "không có dấu ngoặc kép.",
    ),
    "type object": (
        "runs = 5\n",
        "runs must be a section of settings, but its value is 5. Write its settings below a [runs] line.",
        "runs phải là một nhóm cấu hình, nhưng giá trị là 5. Hãy ghi các mục con của nó dưới dòng [runs].",
    ),
    "type array": (
        '[identity.precedence]\nstudent = "oneroster"\n',
        'identity.precedence.student must be a list, but its value is "oneroster". Write the list in '
        'square brackets, such as ["a", "b"].',
        'identity.precedence.student phải là một danh sách, nhưng giá trị là "oneroster". Hãy ghi danh '
        'sách trong ngoặc vuông, ví dụ ["a", "b"].',
    ),
    "minimum": (
        "[runs]\nstage_chunk_size = 0\n",
        "runs.stage_chunk_size: 0 is below the minimum of 1. Write a value of 1 or more.",
        "runs.stage_chunk_size: 0 nhỏ hơn giá trị nhỏ nhất cho phép là 1. Hãy ghi một giá trị từ 1 trở lên.",
    ),
    "maximum": (
        "[runs]\nchunk_size = 100001\n",
        "runs.chunk_size: 100001 is above the maximum of 100000. Write a value of 100000 or less.",
        "runs.chunk_size: 100001 lớn hơn giá trị lớn nhất cho phép là 100000. Hãy ghi một giá trị "
        "không quá 100000.",
    ),
    "exclusive minimum": (
        "[guard]\nmax_change_ratio = 0\n",
        "guard.max_change_ratio: 0 is too small. Write a value greater than 0.",
        "guard.max_change_ratio: 0 quá nhỏ. Hãy ghi một giá trị lớn hơn 0.",
    ),
    "enum": (
        '[logging]\nlevel = "LOUD"\n',
        'logging.level: "LOUD" is not an allowed value. Write one of: "DEBUG", "INFO", "WARNING", "ERROR".',
        'logging.level: "LOUD" không phải giá trị được phép. Hãy ghi một trong các giá trị: "DEBUG", '
        '"INFO", "WARNING", "ERROR".',
    ),
    "unknown key": (
        "[runs]\nchunk_sise = 5\n",
        "runs.chunk_sise: no such setting. Correct the name or remove the setting. Names allowed "
        "here: chunk_size, stage_chunk_size, read_ahead, lease_seconds.",
        "runs.chunk_sise: không có mục cấu hình này. Hãy sửa lại tên hoặc bỏ mục này. Các tên được "
        "phép ở đây: chunk_size, stage_chunk_size, read_ahead, lease_seconds.",
    ),
    "pattern": (
        '[store]\nurl = "mysql://x"\n',
        'store.url: "mysql://x" is not a supported store address. Write sqlite:///var/gateway.db (a '
        "path relative to GATEWAY_HOME), sqlite:////absolute/path.db or postgresql://user@host:port/database.",
        'store.url: "mysql://x" không phải địa chỉ kho dữ liệu được hỗ trợ. Hãy ghi '
        "sqlite:///var/gateway.db (đường dẫn tương đối với GATEWAY_HOME), "
        "sqlite:////đường/dẫn/tuyệt/đối.db hoặc postgresql://người_dùng@máy:cổng/tên_csdl.",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_problem_in_catalogue_words(tmp_path: Path, language: Callable[[str], None], case: str) -> None:
    toml, english, vietnamese = CASES[case]

    language("en")
    in_english = problems_of(tmp_path, toml)
    language("vi")
    in_vietnamese = problems_of(tmp_path, toml)

    assert in_english == [english]
    assert in_vietnamese == [vietnamese]


def test_unknown_section_names_sections(tmp_path: Path, language: Callable[[str], None]) -> None:
    language("en")
    problems = problems_of(tmp_path, "[nonsense]\nx = 1\n")
    assert len(problems) == 1
    assert problems[0].startswith("nonsense: no such setting.")
    assert problems[0].endswith("Names allowed here: store, runs, guard, retention, codelists, locale, "
                                "logging, limits, identity.")


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_required_setting_named(tmp_path: Path, language: Callable[[str], None], lang: str) -> None:
    language(lang)
    document = settings_module.merge(settings_module.load(environ={"GATEWAY_HOME": str(tmp_path)}).data, {})
    del document["runs"]["chunk_size"]
    del document["locale"]

    with pytest.raises(ConfigurationError) as caught:
        settings_module.build(document, tmp_path)

    expected = {"en": "{setting}: this required setting is missing. Add it back; config/defaults.toml "
                      "has its default value.",
                "vi": "{setting}: thiếu mục cấu hình bắt buộc này. Hãy thêm lại; giá trị mặc định có "
                      "trong config/defaults.toml."}[lang]
    assert caught.value.problems == [expected.format(setting="locale"),
                                     expected.format(setting="runs.chunk_size")]


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_pattern_and_format_generic_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                language: Callable[[str], None], lang: str) -> None:
    language(lang)
    schema = settings_module._schema()
    schema["properties"]["logging"]["properties"]["format"] = {"type": "string", "pattern": "^[a-z]+$"}
    schema["properties"]["codelists"]["properties"]["unit_correspondence"] = {"format": "ipv4"}
    monkeypatch.setattr(settings_module, "_schema", lambda: schema)

    problems = problems_of(tmp_path, '[logging]\nformat = "JSON"\n[codelists]\nunit_correspondence = "x"\n')

    expected = {
        "en": ['codelists.unit_correspondence: "x" is not a valid ipv4. Correct the value.',
               'logging.format: "JSON" does not have the allowed form (regular expression ^[a-z]+$). '
               "Correct the value to that form."],
        "vi": ['codelists.unit_correspondence: "x" không đúng định dạng ipv4. Hãy sửa lại giá trị.',
               'logging.format: "JSON" không đúng dạng cho phép (biểu thức chính quy ^[a-z]+$). Hãy '
               "sửa lại giá trị theo dạng đó."],
    }[lang]
    assert problems == expected


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_no_jsonschema_words(tmp_path: Path, language: Callable[[str], None],
                                            lang: str) -> None:
    language(lang)
    toml = ('runs = 5\n[guard]\nmax_change_ratio = 2\nmin_existing = -1\nextra = 1\n'
            '[locale]\nlang = "fr"\n[store]\nurl = "x"\nbusy_timeout_ms = "1"\n')

    problems = problems_of(tmp_path, toml)

    assert [p.split(" ")[0].rstrip(":") for p in problems] == [
        "guard.extra", "guard.max_change_ratio", "guard.min_existing", "locale.lang", "runs",
        "store.busy_timeout_ms", "store.url"]
    for problem in problems:
        assert not any(words in problem for words in JSONSCHEMA_WORDS), problem


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_file_problems_in_catalogue_words(tmp_path: Path, language: Callable[[str], None],
                                          lang: str) -> None:
    language(lang)
    broken = problems_of(tmp_path, "[runs\n")
    absent = tmp_path / "absent.toml"
    with pytest.raises(ConfigurationError) as caught:
        settings_module.load(environ={"GATEWAY_HOME": str(tmp_path), "GATEWAY_CONFIG": str(absent)})

    words = {"en": ("is not valid TOML", "cannot be read"),
             "vi": ("không phải TOML hợp lệ", "không đọc được tệp cấu hình")}[lang]
    assert broken[0].startswith(f"{tmp_path / 'local.toml'}: ")
    assert words[0] in broken[0]
    assert "line 1" in broken[0]
    assert caught.value.problems[0].startswith(f"{absent}: ")
    assert words[1] in caught.value.problems[0]


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_built_keys_have_texts(lang: str) -> None:
    keys = [f"settings.invalid.type.{name}" for name in TYPE_MESSAGE_TYPES]
    keys += [f"settings.invalid.pattern.{name}" for name in settings_module.PATTERN_MESSAGE_SETTINGS]
    keys += list(settings_module._LIMIT_KEYS.values())
    assert [key for key in keys if key not in catalogue(lang)] == []
