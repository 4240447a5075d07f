"""The transform steps a mapping field may name, each compiled once into a function.

A step takes a value (text, a list, or a converted value) and returns the new
value, or raises ``StepError`` with a catalogue key and parameters; the compiler
adds the place (file, row, column, field) and turns it into a ``MappingError``.
``None`` (an empty cell) passes through every step untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from gateway.codelists import get_codelist
from gateway.errors import ConfigurationError
from gateway.text import match_key

Step = Callable[[Any], Any]

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "x", "c", "v", "co", "dung"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "khong", "sai"})


class StepError(Exception):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    word = match_key(str(value))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise StepError("mapping.boolean_invalid", value=value)


def _school_year_from_end_year(value: Any) -> Any:
    """Read ``2026`` as the school year ``2025-2026``; a written range passes if consecutive."""
    text = str(value).replace(" ", "").replace("/", "-")
    if re.fullmatch(r"\d{4}", text):
        return f"{int(text) - 1}-{text}"
    years = re.fullmatch(r"(\d{4})-(\d{4})", text)
    if years and int(years.group(2)) == int(years.group(1)) + 1:
        return text
    raise StepError("mapping.school_year_invalid", value=value)


def _split(separator: str) -> Step:
    def split(value: Any) -> Any:
        if isinstance(value, list):
            return value
        parts = [part.strip() for part in str(value).split(separator)]
        return [part for part in parts if part] or None

    return split


_FORMAT_WORDS = {"%Y": "YYYY", "%y": "YY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss"}


def human_format(pattern: str) -> str:
    """Turn a strptime pattern into the form people read: ``%d/%m/%Y`` -> ``DD/MM/YYYY``."""
    for directive, word in _FORMAT_WORDS.items():
        pattern = pattern.replace(directive, word)
    return pattern


def _date(formats: list[str]) -> Step:
    shown = " | ".join(human_format(f) for f in formats)

    def parse(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        text = str(value)
        for pattern in formats:
            try:
                return datetime.strptime(text, pattern).date().isoformat()
            except ValueError:
                continue
        raise StepError("mapping.date_invalid", value=value, formats=shown)

    return parse


def _code(list_name: str, version: int | None) -> Step:
    codelist = get_codelist(list_name, version)

    def lookup(value: Any) -> Any:
        try:
            return codelist.lookup(str(value))
        except KeyError:
            raise StepError(
                "mapping.code_unknown", value=value, codelist=f"{codelist.name}@{codelist.version}"
            ) from None

    return lookup


def _each(steps: list[Any]) -> Step:
    inner = compile_steps(steps)

    def each(value: Any) -> Any:
        if not isinstance(value, list):
            return inner(value)
        results = [inner(item) for item in value]
        return [item for item in results if item is not None] or None

    return each


SIMPLE_STEPS: dict[str, Step] = {
    "upper": _upper,
    "lower": _lower,
    "first": _first,
    "boolean": _boolean,
    "school_year_from_end_year": _school_year_from_end_year,
}


def compile_step(spec: Any) -> Step:
    """Return the function for one step of a mapping file; ``ConfigurationError`` if unknown."""
    if isinstance(spec, str):
        if spec not in SIMPLE_STEPS:
            raise ConfigurationError("error.mapping_step_unknown", step=spec)
        return SIMPLE_STEPS[spec]
    (name, argument), = spec.items()
    if name == "split":
        return _split(argument)
    if name == "date":
        return _date(list(argument["formats"]))
    if name == "code":
        return _code(argument["list"], argument.get("version"))
    if name == "each":
        return _each(argument)
    raise ConfigurationError("error.mapping_step_unknown", step=name)


def compile_steps(specs: list[Any]) -> Step:
    """Chain the steps; ``None`` stops the chain and is the result."""
    functions = [compile_step(spec) for spec in specs]

    def run(value: Any) -> Any:
        for function in functions:
            if value is None:
                return None
            value = function(value)
        return value

    return run
