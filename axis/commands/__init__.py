"""Sub-commands of the ``axis`` CLI.

Each module listed in ``axis.cli.COMMAND_MODULES`` exposes
``register(subparsers) -> None``; the parser it adds sets ``func``, a callable taking
the parsed ``argparse.Namespace`` and returning the process exit status.
"""
