"""The ``gateway`` command: one click group, subcommands registered in ``main.COMMANDS``."""
