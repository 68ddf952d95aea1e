"""Helpers shared by the studies that re-solve one built problem with a changed rule."""

from __future__ import annotations

from dataclasses import replace

from siteopt.models.base import ModelSpec, Problem, Rules


def towns_of(problem: Problem, selected: tuple[int, ...]) -> tuple[str, ...]:
    """Town (group) name of each selected candidate, in order, without repeats."""
    out: list[str] = []
    for j in selected:
        g = int(problem.cand_group[j])
        name = problem.group_names[g] if 0 <= g < len(problem.group_names) else "(no town)"
        if name not in out:
            out.append(name)
    return tuple(out)


def quick_spec(spec: ModelSpec, rules: Rules) -> ModelSpec:
    """``spec`` under ``rules``, without alternatives or marginal values (one exact solve)."""
    return replace(spec, rules=rules, alternatives=0, marginal=False, distinct="sets")
