"""The ``gateway`` console command. Subcommands are registered here and only here."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from gateway.cli.admin_commands import (
    codelists_group,
    demo_data_command,
    mappings_group,
    prune_command,
    quarantine_group,
)
from gateway.cli.context import AppContext
from gateway.cli.ingest_commands import ingest_command, runs_group
from gateway.cli.localization import localize, translate_click
from gateway.cli.record_commands import records_group
from gateway.cli.store_commands import (
    changes_command,
    init_command,
    migrate_command,
    summary_command,
)
from gateway.errors import GatewayError
from gateway.i18n import set_language, translate

log = logging.getLogger(__name__)

COMMANDS: list[click.Command] = [
    init_command,
    migrate_command,
    demo_data_command,
    ingest_command,
    runs_group,
    summary_command,
    changes_command,
    mappings_group,
    codelists_group,
    quarantine_group,
    prune_command,
    records_group,
]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # as shells report a command stopped by Ctrl-C


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lang", type=click.Choice(["vi", "en"]), help="Language of messages (default: vi).")
@click.option("--json", "json_output", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def cli(ctx: click.Context, lang: str | None, json_output: bool) -> None:
    """Education data-exchange gateway."""
    set_language(lang)
    app = AppContext(json_output=json_output, lang_option=lang)
    ctx.obj = app
    ctx.call_on_close(app.close)


for command in COMMANDS:
    cli.add_command(command)


def _global_options(argv: list[str]) -> tuple[str | None, bool, list[str]]:
    """Take ``--lang X`` and ``--json`` from anywhere in ``argv``; return them and the rest."""
    lang, json_output, rest = None, False, []
    words = iter(argv)
    for word in words:
        if word == "--json":
            json_output = True
        elif word == "--lang":
            # A missing value is passed on as empty, so that click rejects it with the others.
            lang = next(words, "")
        elif word.startswith("--lang="):
            lang = word.split("=", 1)[1]
        else:
            rest.append(word)
    return lang, json_output, rest


def _language(option: str | None) -> str:
    """Pick the language before settings are read, so help and errors come out in it."""
    if option:
        return option
    try:
        from gateway import settings as settings_module

        return settings_module.load().lang
    except GatewayError:
        # Invalid settings are reported in the language they name, where they name one.
        return settings_module.declared_language() or "vi"


# Raised by click 8.2 and later for a group called without a subcommand; its
# message is the group's whole help page. Click 8.1 prints the help and exits 0.
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def usage_error_document(exc: click.UsageError) -> dict[str, Any]:
    """Return a usage error as the JSON object that ``GatewayError.as_dict`` gives for ours.

    ``params`` contains the command path, click's translated message
    (``detail``) and the help command to run.
    """
    ctx = exc.ctx
    command = ctx.command_path if ctx else "gateway"
    help_names = ctx.command.get_help_option_names(ctx) if ctx else ["--help"]
    if isinstance(exc, _NO_ARGS_IS_HELP):
        detail = translate("cli.click.missing_command")
    else:
        detail = exc.format_message()
    params = {"command": command, "detail": detail, "help": f"{command} {max(help_names, key=len)}"}
    return {"error": "cli.usage_error", "message": translate("cli.usage_error", **params),
            "place": {}, "params": params}


def main() -> None:
    """Run the CLI; a ``GatewayError`` becomes a translated message and exit code 1.

    A usage error exits with 2: click's usage text on standard error, or with
    ``--json`` an error object on standard output.
    """
    requested_lang, json_output, rest = _global_options(sys.argv[1:])
    lang = set_language(_language(requested_lang))
    localize(cli)
    translate_click()
    # The value as given, so that click rejects one it does not know (messages use ``lang``).
    lang_arg = lang if requested_lang is None else requested_lang
    args = ["--lang", lang_arg, *(["--json"] if json_output else []), *rest]
    try:
        # Without standalone mode click returns the code of a command's Exit.
        code = cli.main(args=args, prog_name="gateway", standalone_mode=False)
    except GatewayError as exc:
        if json_output:
            click.echo(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2))
        else:
            click.echo(exc.message(), err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except click.UsageError as exc:
        if json_output:
            click.echo(json.dumps(usage_error_document(exc), ensure_ascii=False, indent=2))
        else:
            exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C (KeyboardInterrupt) and an end of input into Abort.
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        if interrupted:
            click.echo(GatewayError("error.interrupted_command").message(), err=True)
        sys.exit(EXIT_INTERRUPTED if interrupted else EXIT_ERROR)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
