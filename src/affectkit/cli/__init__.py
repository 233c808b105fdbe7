"""The ``affect`` command line: thin over the library.

Each module in this package that defines ``app`` (a :class:`typer.Typer`) and ``NAME`` becomes
a sub-command group (``affect NAME ...``); a module may instead define ``register(root_app)``
to add top-level commands. Heavy libraries are imported inside commands, never at start-up.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from affectkit import __version__
from affectkit.errors import AffectkitError

app = typer.Typer(
    name="affect",
    help="affectkit: multimodal sentiment and emotion analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"affectkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """affectkit: multimodal sentiment and emotion analysis."""


def _load_subcommands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(app)
        elif hasattr(mod, "app") and hasattr(mod, "NAME"):
            app.add_typer(mod.app, name=mod.NAME, help=(mod.__doc__ or "").strip().splitlines()[0])


_load_subcommands()


def main() -> None:
    """Console entry point: library errors become one clear message and exit code 2."""
    try:
        app()
    except AffectkitError as e:
        from rich.console import Console
        from rich.markup import escape

        # escape: messages contain brackets (`pip install 'affectkit[opensmile]'`)
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False,
                                   soft_wrap=True)
        sys.exit(2)
