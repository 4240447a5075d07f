"""Click's own texts and the commands' help texts, from the translation catalogue.

Click 8 marks the texts it writes itself (the usage line, section headings, the
help option, usage errors, parameter type errors) for the stdlib ``gettext``
module, whose functions its modules import as ``_`` and, for plurals,
``ngettext``. ``CLICK_MESSAGES`` maps those English source texts to catalogue
keys (``cli.click.*``). A click text not listed there stays in English.
"""

from __future__ import annotations

import importlib

import click

from gateway.i18n import lookup, translate

# Click's source text (the singular one for ngettext) to our catalogue key.
CLICK_MESSAGES: dict[str, str] = {
    # click.formatting and click.core: the help page
    "Usage:": "cli.click.usage",
    "Options": "cli.click.options",
    "Positional arguments": "cli.click.positional_arguments",
    "Commands": "cli.click.commands",
    "default: {default}": "cli.click.default",
    "required": "cli.click.required",
    # click.decorators
    "Show this message and exit.": "cli.click.help_option",
    # click.exceptions
    "Error: {message}": "cli.click.error",
    "Try '{command} {option}' for help.": "cli.click.try_help",
    "Invalid value: {message}": "cli.click.invalid_value",
    "Invalid value for {param_hint}: {message}": "cli.click.invalid_value_for",
    "Missing argument": "cli.click.missing_argument",
    "Missing option": "cli.click.missing_option",
    "Missing parameter": "cli.click.missing_parameter",
    "No such option {name!r}.": "cli.click.no_such_option",
    "No such command {name!r}.": "cli.click.no_such_command",
    "Did you mean {possibility}?": "cli.click.did_you_mean",
    # click.core and click.parser: what the command line contains
    "Missing command.": "cli.click.missing_command",
    "Got unexpected extra argument ({args})": "cli.click.extra_arguments",
    "Option {name!r} does not take a value.": "cli.click.option_no_value",
    "Option {name!r} requires an argument.": "cli.click.option_requires_argument",
    # click.types: values that do not convert
    "{value!r} is not {choice}.": "cli.click.choice_invalid",
    "Choose from:\n\t{choices}": "cli.click.choose_from",
    "{value!r} is not a valid {number_type}.": "cli.click.number_invalid",
    "{value} is not in the range {range}.": "cli.click.out_of_range",
    "{name} {filename!r} does not exist.": "cli.click.path_missing",
    "{name} {filename!r} is a file.": "cli.click.path_is_file",
    "{name} {filename!r} is a directory.": "cli.click.path_is_folder",
    "{name} {filename!r} is not readable.": "cli.click.path_not_readable",
    "{name} {filename!r} is not writable.": "cli.click.path_not_writable",
    "{name} {filename!r} is not executable.": "cli.click.path_not_executable",
}

# The click modules whose texts a user of the gateway command can see.
CLICK_MODULES = (
    "click.core", "click.decorators", "click.exceptions", "click.formatting", "click.parser",
    "click.types",
)


def click_gettext(message: str) -> str:
    """Return the catalogue text for click's ``message``, unformatted, or ``message`` itself."""
    key = CLICK_MESSAGES.get(message)
    text = lookup(key) if key else None
    return message if text is None else text


def click_ngettext(singular: str, plural: str, count: int) -> str:
    """Return the catalogue text for click's plural message, in the form for ``count``."""
    key = CLICK_MESSAGES.get(singular)
    text = lookup(key, count=count) if key else None
    if text is None:
        return singular if count == 1 else plural
    return text


def translate_click() -> None:
    """Make click's own texts come from the catalogue, in the language set at the time of use.

    NOTE: this replaces the ``_`` and ``ngettext`` names that click's modules
    import from ``gettext``, because click (8.5.1 here) offers no other hook.
    Its texts go through the stdlib's global ``gettext.gettext``, which reads
    only compiled ``.mo`` files, found through ``gettext.bindtextdomain`` and
    the ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` environment
    variables. Using it would mean compiling our ``.po`` catalogues into a
    folder on disk at run time and changing the process's environment and
    default text domain. Subclassing the command and formatter classes would
    reach the help page, but not the error messages that click's parser and
    parameter types build. Safe to call more than once.
    """
    for name in CLICK_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            setattr(module, "_", click_gettext)  # noqa: B010 (mypy rejects module._ = ...)
        if hasattr(module, "ngettext"):
            setattr(module, "ngettext", click_ngettext)  # noqa: B010


def localize(command: click.Command, path: tuple[str, ...] = ()) -> None:
    """Set help texts from the catalogue: key ``cli.<command path>`` and ``...<option>``.

    Also sets the usage line's ``[OPTIONS]`` and ``COMMAND [ARGS]...`` placeholders.
    """
    key = "cli." + (".".join(path) or "gateway")
    text = translate(key)
    if text != key:
        command.help = text
        command.short_help = None
    if command.options_metavar:
        command.options_metavar = translate("cli.click.options_metavar")
    for param in command.params:
        if isinstance(param, click.Option):
            option_text = translate(f"{key}.{param.name}")
            if option_text != f"{key}.{param.name}":
                param.help = option_text
    if isinstance(command, click.Group):
        if not command.chain:
            command.subcommand_metavar = translate("cli.click.subcommand_metavar")
        for name, sub in command.commands.items():
            localize(sub, (*path, name))
