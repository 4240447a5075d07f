"""The ``gateway`` console command. Subcommands are registered here and only here."""

from __future__ import annotations

import logging
import sys

import click

from gateway.cli.admin_commands import (
    codelists_group,
    demo_data_command,
    mappings_group,
    quarantine_group,
)
from gateway.cli.context import AppContext
from gateway.cli.ingest_commands import ingest_command, runs_group
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
            lang = next(words, None)
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
        return "vi"


def localize(command: click.Command, path: tuple[str, ...] = ()) -> None:
    """Set help texts from the catalogue: key ``cli.<command path>`` and ``...<option>``."""
    key = "cli." + (".".join(path) or "gateway")
    text = translate(key)
    if text != key:
        command.help = text
        command.short_help = None
    for param in command.params:
        if isinstance(param, click.Option):
            option_text = translate(f"{key}.{param.name}")
            if option_text != f"{key}.{param.name}":
                param.help = option_text
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            localize(sub, (*path, name))


def main() -> None:
    """Run the CLI; a ``GatewayError`` becomes a translated message and exit code 1."""
    lang, json_output, rest = _global_options(sys.argv[1:])
    lang = set_language(_language(lang))
    localize(cli)
    args = ["--lang", lang, *(["--json"] if json_output else []), *rest]
    try:
        # Without standalone mode click returns the code of a command's Exit.
        code = cli.main(args=args, prog_name="gateway", standalone_mode=False)
    except GatewayError as exc:
        if json_output:
            import json

            click.echo(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2))
        else:
            click.echo(exc.message(), err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
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
