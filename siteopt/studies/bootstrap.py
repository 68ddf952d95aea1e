"""Bootstrap resampling of overdose deaths into per-town counts.

``by="record"`` draws as many death records as the scenario selects, with replacement;
``by="year"`` draws as many years as the period has, with replacement, and takes every death of
each drawn year (a year drawn twice counts twice). Only deaths placed in a Connecticut town become
demand; the others are drawn like any record, as they are part of the data. Replicate ``r``
uses ``numpy.random.default_rng(numpy.random.SeedSequence([seed, r]))``, so a replicate does not
depend on how many others are drawn or where it is computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siteopt._errors import InputError
from siteopt.problem import UNRESOLVED, select_deaths
from siteopt.scenario import Scenario

By = Literal["record", "year"]


@dataclass(frozen=True)
class DeathSample:
    """The deaths a scenario selects, as arrays.

    Parameters
    ----------
    town
        Index into ``town_names`` of each record's town, -1 when not placed in a town.
    year
        Year of each record.
    years
        The years of the period, first to last.
    town_names
        Town names, in the order of the problem's groups.
    """

    town: NDArray[np.int64]
    year: NDArray[np.int64]
    years: NDArray[np.int64]
    town_names: tuple[str, ...]

    @property
    def n_towns(self) -> int:
        """Number of towns."""
        return len(self.town_names)

    def counts(self, rows: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
        """Placed deaths per town among ``rows`` (all records when None; repeats count)."""
        t = self.town if rows is None else self.town[rows]
        return np.bincount(t[t >= 0], minlength=self.n_towns).astype(np.int64)

    def year_town(self) -> NDArray[np.int64]:
        """Placed deaths per (year of the period, town)."""
        ok = self.town >= 0
        yi = np.searchsorted(self.years, self.year[ok])
        flat = yi * self.n_towns + self.town[ok]
        size = self.years.size * self.n_towns
        return np.bincount(flat, minlength=size).reshape(self.years.size, self.n_towns)


def death_sample(
    scenario: Scenario, deaths: pd.DataFrame, town_names: Sequence[str]
) -> DeathSample:
    """The scenario's selected deaths (period and substances) with town indices."""
    sel, summary = select_deaths(scenario, deaths)
    col = f"{scenario.demand.place}_town"
    names = sel[col].astype(str).to_numpy()
    index = {t: k for k, t in enumerate(town_names)}
    town = np.array([index.get(t, -1) for t in names], dtype=np.int64)
    unknown = sorted({t for t in names if t not in index and t not in UNRESOLVED})
    if unknown:
        raise InputError(
            f"deaths name towns not in the towns layer: {', '.join(unknown[:5])}; rebuild the "
            "bundle."
        )
    years = np.arange(summary.first_year, summary.last_year + 1, dtype=np.int64)
    return DeathSample(
        town=town,
        year=sel["year"].astype(int).to_numpy().astype(np.int64),
        years=years,
        town_names=tuple(town_names),
    )


def point_sample(n: int) -> DeathSample:
    """The user's own demand points as a sample to resample: one record per point.

    Each "town" of the sample is one demand point, so :func:`resample_counts` with
    ``by="record"`` draws ``n`` points with replacement (a nonparametric bootstrap over demand
    units; each draw keeps the point's weight). There are no years: ``by="year"`` is refused.
    """
    idx = np.arange(n, dtype=np.int64)
    return DeathSample(
        town=idx,
        year=np.zeros(n, dtype=np.int64),
        years=np.zeros(0, dtype=np.int64),
        town_names=tuple(str(i) for i in range(n)),
    )


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The random generator of one replicate."""
    return np.random.default_rng(np.random.SeedSequence([seed, replicate]))


def resample_counts(sample: DeathSample, by: By, seed: int, replicate: int) -> NDArray[np.int64]:
    """Per-town placed deaths of bootstrap replicate ``replicate``.

    Raises
    ------
    InputError
        ``by="year"`` with a one-year period (every replicate would equal the data).
    """
    rng = replicate_rng(seed, replicate)
    if by == "record":
        n = sample.town.size
        return sample.counts(rng.integers(0, n, size=n))
    if by == "year":
        y = sample.years.size
        if y == 0:
            raise InputError(
                "--by year resamples the years of the bundle's death records, but this scenario's "
                "demand is your own points, which have no years; use --by record (it resamples "
                "your demand points)."
            )
        if y < 2:
            raise InputError(
                f"--by year needs a period of at least two years; the scenario counts only "
                f"{int(sample.years[0])}. Use --by record, or widen demand.last_years."
            )
        times = np.bincount(rng.integers(0, y, size=y), minlength=y)
        return (times @ sample.year_town()).astype(np.int64)
    raise InputError(f"--by must be 'record' or 'year', not {by!r}.")
