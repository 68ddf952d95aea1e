"""Context settings, parameter types and the options shared by the commands.

=====================  ==============================================================
option                 used by
=====================  ==============================================================
``-v/-q/--debug``      every command and group, before or after the subcommand
``CONFIG``             solve, validate, show, sweep, curve
``--output/-o``        solve, compare, sweep, curve
``--overwrite``        solve, compare, sweep, curve, data build
``--solver``           solve
``--time-limit``       solve
``--mip-gap``          solve
``--threads``          solve
``--alternatives``     solve
``--distinct``         solve
``--min-shift-m``      solve
``--curve``            solve
``--max-p``            curve
``--no-cache``         solve
=====================  ==============================================================

This module imports only click: every command module can use it without slowing the start-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from siteopt.cli.context import get_state

F = TypeVar("F", bound=Callable[..., Any])

#: Context settings of every command and group: ``-h`` beside ``--help``, help up to 100 columns.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class FiniteFloat(click.FloatRange):
    """A float in a range that refuses NaN and infinities (``click.FloatRange`` lets NaN pass).

    Parameters
    ----------
    min, max, min_open, max_open
        The range, as for ``click.FloatRange``.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Convert ``value`` to a finite float inside the range, or fail with exit code 2."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            return super().convert(value, param, ctx)  # click's own message
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def _count(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if ctx.resilient_parsing:
            return
        state = get_state(ctx)
        if attr == "debug":
            state.debug = state.debug or bool(value)
        else:
            setattr(state, attr, getattr(state, attr) + int(value or 0))
        state.apply()

    return callback


def verbosity_options(f: F) -> F:
    """``-v/--verbose``, ``-q/--quiet`` and ``--debug``, counted wherever they are given.

    Every command and group takes them, so ``siteopt -q solve X`` and ``siteopt solve X -q`` mean
    the same; the counts of the root group and the subcommand add up.
    """
    for option in (
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_count("debug"),
            help="Show tracebacks for errors.",
        ),
        click.option(
            "-q",
            "--quiet",
            count=True,
            expose_value=False,
            callback=_count("quiet"),
            help="Less output: only errors and results.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_count("verbose"),
            help="More output (repeat for more).",
        ),
    ):
        f = option(f)
    return f


config_arg = click.argument(
    "config", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False)
)


def output_option(default: str) -> Callable[[F], F]:
    """``-o/--output DIR``; ``default`` names the folder used without it, for the help."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"Output directory [default: {default}].",
    )


def overwrite_option(help: str = "Replace an existing output directory (atomically).") -> Any:
    """``--overwrite``, with the help text of the command."""
    return click.option("--overwrite", is_flag=True, default=False, help=help)


output_opt = output_option("out/<scenario name>")
overwrite_opt = overwrite_option()
solver_opt = click.option(
    "--solver",
    type=click.Choice(["highs", "cbc"]),
    default=None,
    help="MIP solver [default: the scenario's, else highs].",
)
time_limit_opt = click.option(
    "--time-limit",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Solver time limit in seconds per solve.",
)
mip_gap_opt = click.option(
    "--mip-gap",
    type=FiniteFloat(min=0, max=1, max_open=True),
    default=None,
    help="Relative gap at which the solver may stop (0 = prove optimality).",
)
threads_opt = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Solver threads."
)
alternatives_opt = click.option(
    "--alternatives",
    type=click.IntRange(min=0, max=50),
    default=0,
    show_default=True,
    help="Also find this many next-best distinct site sets, exactly.",
)
distinct_opt = click.option(
    "--distinct",
    type=click.Choice(["towns", "sites", "sets"]),
    default=None,
    help="How alternatives differ: 'towns' (each leaves out a town of every earlier set; the "
    "default with at most one site per municipality), 'sites' (a site at least --min-shift-m "
    "from every site of every earlier set) or 'sets' (any other site set).",
)
min_shift_opt = click.option(
    "--min-shift-m",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="With --distinct sites: the distance in metres.",
)
profile_opt = click.option(
    "--profile",
    is_flag=True,
    help="After the run, print where its time went: start-up, imports, each stage and each "
    "output file (the numbers timings.json holds).",
)

curve_opt = click.option(
    "--curve/--no-curve",
    default=None,
    help="Add (or leave out) the report's chart of what 1 ... p + 3 sites buy "
    "[default: the scenario's output.curve, true].",
)


def _no_cache(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Turn the on-disk cache off for this command (``SITEOPT_CACHE=off`` while it runs)."""
    if not value or ctx.resilient_parsing:
        return
    import os

    from siteopt.settings import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = "off"

    def restore() -> None:  # a library caller (or a test) gets its environment back
        if before is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = before

    ctx.call_on_close(restore)


no_cache_opt = click.option(
    "--no-cache",
    is_flag=True,
    expose_value=False,
    callback=_no_cache,
    help="Build everything afresh: read nothing from the on-disk cache and write nothing to "
    "it (as SITEOPT_CACHE=off; see `siteopt cache info`).",
)
