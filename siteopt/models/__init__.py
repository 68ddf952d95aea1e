"""Exact optimisation models: ``solve(problem, spec, solver) -> Solution``."""

from __future__ import annotations

from siteopt.models.solve import solve

__all__ = ["solve"]
