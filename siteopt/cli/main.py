"""The ``siteopt`` command: a root group that owns verbosity, logging and error translation."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from rich.console import Console

from siteopt import __version__
from siteopt._errors import SiteoptError
from siteopt.cli.options import CONTEXT_SETTINGS

log = logging.getLogger("siteopt")


class BadInput(click.ClickException):
    """Bad input or usage: exit code 2."""

    exit_code = 2


class RuntimeFailure(click.ClickException):
    """A runtime failure: exit code 1."""

    exit_code = 1


def _translate(message: str, code: int) -> click.ClickException:
    return BadInput(message) if code == 2 else RuntimeFailure(message)


class SiteoptGroup(click.Group):
    """A group that turns siteopt's typed errors into one line and an exit code.

    Exit codes: 0 success, 1 runtime failure, 2 bad input or usage. ``--debug`` re-raises the
    original exception so the traceback shows.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SiteoptError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise _translate(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise RuntimeFailure("interrupted; earlier outputs were left untouched.") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise RuntimeFailure(
                f"internal error: {type(exc).__name__}: {exc}. Re-run with --debug for the "
                "traceback and report it."
            ) from None


@click.group(cls=SiteoptGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="siteopt")
@click.option("-v", "--verbose", count=True, help="More output (repeat for more).")
@click.option("-q", "--quiet", count=True, help="Less output: only errors and results.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, debug: bool) -> None:
    """Choose sites for harm reduction centres, exactly, from overdose, transit and zoning data.

    \b
    $ siteopt solve configs/connecticut.yaml
    $ siteopt validate configs/connecticut.yaml
    $ siteopt data info
    """
    verbosity = verbose - quiet
    level = logging.WARNING - 10 * verbosity
    logging.basicConfig(
        level=max(logging.DEBUG, min(logging.CRITICAL, level)),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbosity
    ctx.obj["debug"] = debug
    ctx.obj["console"] = Console(stderr=True, quiet=verbosity < 0, highlight=False)
    ctx.obj["out"] = Console(highlight=False, soft_wrap=False, width=120)


def _register() -> None:
    from siteopt.cli.compare import compare
    from siteopt.cli.data import data
    from siteopt.cli.show import show
    from siteopt.cli.solve import solve
    from siteopt.cli.sweep import sweep
    from siteopt.cli.validate import validate

    for cmd in (solve, validate, show, compare, sweep, data):
        cli.add_command(cmd)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="siteopt")


if __name__ == "__main__":
    main()
