"""Click's own texts from the catalogue: the table of click messages and the translating functions."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from gateway.cli.localization import CLICK_MESSAGES, CLICK_MODULES, click_gettext, click_ngettext
from gateway.i18n import LANGUAGES, catalogue, set_language


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    yield
    set_language(None)


def _click_source_messages() -> set[str]:
    """Return the texts that the listed click modules pass to ``_`` and ``ngettext``."""
    messages: set[str] = set()
    for name in CLICK_MODULES:
        source = Path(importlib.import_module(name).__file__ or "").read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("_", "ngettext") and node.args \
                    and isinstance(node.args[0], ast.Constant):
                messages.add(node.args[0].value)
        # Option help marks a required option with _(extra["required"]), the text set elsewhere.
        if '_(extra["required"])' in source:
            messages.add("required")
    return messages


def test_mapped_messages_exist_in_installed_click() -> None:
    # A text that click renamed would silently fall back to English.
    assert sorted(set(CLICK_MESSAGES) - _click_source_messages()) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_click_keys_translated(lang: str) -> None:
    keys = {*CLICK_MESSAGES.values(), "cli.click.options_metavar", "cli.click.subcommand_metavar",
            "cli.usage_error"}
    assert sorted(keys - set(catalogue(lang))) == []


def _help_keys(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the catalogue key of every command's and option's help text, as ``localize`` reads them."""
    key = "cli." + (".".join(path) or "gateway")
    yield key
    for param in command.params:
        if isinstance(param, click.Option) and param.help and not param.hidden \
                and param.name not in ("help",):
            yield f"{key}.{param.name}"
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _help_keys(sub, (*path, name))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_help_text_translated(lang: str) -> None:
    from gateway.cli.main import cli

    # A command added without catalogue entries shows English help to a Vietnamese admin.
    assert sorted(set(_help_keys(cli)) - set(catalogue(lang))) == []


def test_click_gettext_follows_language() -> None:
    set_language("vi")
    assert click_gettext("Usage:") == "Cách dùng:"
    set_language("en")
    assert click_gettext("Usage:") == "Usage:"
    assert click_gettext("Show this message and exit.") == "Show this message and exit."


def test_click_gettext_keeps_click_placeholders() -> None:
    set_language("vi")
    text = click_gettext("No such option {name!r}.")
    assert text.format(name="--bogus") == "Không có tùy chọn '--bogus'."


def test_click_gettext_unknown_message_unchanged() -> None:
    set_language("vi")
    assert click_gettext("Aborted!") == "Aborted!"


@pytest.mark.parametrize(("count", "expected"), [
    (1, "Option {name!r} requires an argument."),
    (2, "Option {name!r} requires {nargs} arguments."),
])
def test_click_ngettext_english_forms(count: int, expected: str) -> None:
    set_language("en")
    singular, plural = "Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."
    assert click_ngettext(singular, plural, count) == expected


@pytest.mark.parametrize("count", [1, 3])
def test_click_ngettext_vietnamese_one_form(count: int) -> None:
    set_language("vi")
    text = click_ngettext("Option {name!r} requires an argument.",
                          "Option {name!r} requires {nargs} arguments.", count)
    assert text == "Tùy chọn {name!r} cần {nargs} giá trị."


def test_click_ngettext_unknown_message_uses_click_forms() -> None:
    set_language("vi")
    assert click_ngettext("{n} apple", "{n} apples", 1) == "{n} apple"
    assert click_ngettext("{n} apple", "{n} apples", 2) == "{n} apples"
