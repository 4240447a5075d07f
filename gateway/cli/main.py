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
from gateway.cli.store_commands import (
    changes_command,
    init_command,
    migrate_command,
    summary_command,
)
from gateway.errors import GatewayError
from gateway.i18n import set_language

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
]

EXIT_ERROR = 1


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


def main() -> None:
    """Run the CLI; a ``GatewayError`` becomes a translated message and exit code 1."""
    json_output = "--json" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except GatewayError as exc:
        if json_output:
            import json

            click.echo(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2))
        else:
            click.echo(exc.message(), err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(EXIT_ERROR)
