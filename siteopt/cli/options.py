"""Reusable click options and arguments, shared by the commands.

=================  ============================================
option             used by
=================  ============================================
``CONFIG``         solve, validate, show
``--output/-o``    solve
``--overwrite``    solve, data build
``--solver``       solve
``--time-limit``   solve
``--mip-gap``      solve
``--threads``      solve
``--alternatives`` solve
=================  ============================================
"""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

config_arg = click.argument(
    "config", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False)
)
output_opt = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output directory [default: out/<scenario name>].",
)
overwrite_opt = click.option(
    "--overwrite", is_flag=True, help="Replace an existing output directory (atomically)."
)
solver_opt = click.option(
    "--solver",
    type=click.Choice(["highs", "cbc"]),
    default=None,
    help="MIP solver [default: the scenario's, else highs].",
)
time_limit_opt = click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Solver time limit in seconds per solve.",
)
mip_gap_opt = click.option(
    "--mip-gap",
    type=click.FloatRange(min=0, max=1, max_open=True),
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
