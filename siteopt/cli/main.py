"""The ``siteopt`` command: a root group that owns verbosity, logging and error translation.

Commands live one per module (``siteopt.cli.solve``, ..., ``siteopt.cli.data``) and are imported
only when named (:class:`LazyGroup`); their heavy imports (geopandas, the solvers, rich tables)
sit inside the command functions, so ``siteopt --help`` and ``siteopt solve --help`` start fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from siteopt._errors import InputErrors, SiteoptError
from siteopt.cli.context import CliState, get_state, one_line, safe_text
from siteopt.cli.options import CONTEXT_SETTINGS, verbosity_options

log = logging.getLogger("siteopt")

#: The root group's commands: name -> "module:attribute", imported on first use.
COMMANDS = {
    "solve": "siteopt.cli.solve:solve",
    "validate": "siteopt.cli.validate:validate",
    "show": "siteopt.cli.show:show",
    "compare": "siteopt.cli.compare:compare",
    "sweep": "siteopt.cli.sweep:sweep",
    "curve": "siteopt.cli.curve:curve",
    "data": "siteopt.cli.data:data",
    "cache": "siteopt.cli.cache:cache",
}


class BadInput(click.ClickException):
    """Bad input or usage: exit code 2."""

    exit_code = 2


class RuntimeFailure(click.ClickException):
    """A runtime failure: exit code 1."""

    exit_code = 1


def _translate(message: str, code: int) -> click.ClickException:
    return BadInput(message) if code == 2 else RuntimeFailure(message)


class LazyGroup(click.Group):
    """A group whose commands are imported only when named (or listed in its help).

    Parameters
    ----------
    lazy_commands
        Command name -> ``"module:attribute"`` of the click command.
    **kwargs
        As for ``click.Group``.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not, sorted."""
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module on first use."""
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module, _, attr = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
        self.add_command(command, cmd_name)
        return command


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_root().obj
    return isinstance(obj, CliState) and obj.debug


def _safe_click_error(exc: click.ClickException) -> None:
    """Escape control characters of a click error's message (it may quote user input)."""
    exc.message = safe_text(exc.message)  # type: ignore[misc]


class SiteoptGroup(LazyGroup):
    """A group that turns siteopt's typed errors into one line and an exit code.

    Exit codes: 0 success, 1 runtime failure, 2 bad input or usage. ``--debug`` (before or after
    the subcommand) re-raises the original exception so the traceback shows. Every message is
    printed terminal-safe: control characters of user-provided keys and values are escaped.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Read the root's own options; a usage error's message is made terminal-safe."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            _safe_click_error(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; translate siteopt's errors into one line and an exit code."""
        try:
            return super().invoke(ctx)
        except SiteoptError as exc:
            if _debug(ctx):
                raise
            _after_signal()
            if isinstance(exc, InputErrors):  # several problems: one Error: line each
                for earlier in exc.errors[:-1]:  # as click shows the last one, even with -q
                    click.echo(f"Error: {one_line(earlier)}", err=True)
                raise _translate(one_line(exc.errors[-1]), exc.exit_code) from None
            raise _translate(one_line(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            raise RuntimeFailure(INTERRUPTED) from None
        except click.ClickException as exc:
            _safe_click_error(exc)
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if _debug(ctx):
                raise
            _after_signal()
            raise RuntimeFailure(
                f"internal error: {type(exc).__name__}: {one_line(exc)}. Re-run with --debug for "
                "the traceback and report it."
            ) from None


#: the message of a run stopped by Ctrl-C or SIGTERM
INTERRUPTED = "interrupted; earlier outputs were left untouched."


def _after_signal() -> None:
    """After Ctrl-C or SIGTERM, an error is the interruption's consequence (e.g. an import the
    signal broke, which a later import reports as missing): say "interrupted", not the error."""
    from siteopt.cli.signals import signalled

    if signalled():
        raise RuntimeFailure(INTERRUPTED) from None


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from siteopt import __version__

    click.echo(f"siteopt, version {__version__}")
    ctx.exit()


@click.group(cls=SiteoptGroup, context_settings=CONTEXT_SETTINGS, lazy_commands=COMMANDS)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Choose sites for harm reduction centres, exactly, from overdose, transit and zoning data.

    \b
    $ siteopt solve configs/connecticut.yaml
    $ siteopt validate configs/connecticut.yaml
    $ siteopt data info
    """
    get_state(ctx).apply()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="siteopt")


if __name__ == "__main__":
    main()
