"""``report.md``: the ranked sites, the scenario in words, provenance, caveats and solver status."""

from __future__ import annotations

from siteopt.pipeline import RunResult

STATUS_WORDS = {
    "optimal": "proved optimal by the solver",
    "feasible": "NOT proved optimal (the solver stopped early; see the gap)",
    "infeasible": "infeasible: the rules cannot all hold",
    "no_solution": "no solution found before the solver stopped",
    "error": "the solver failed",
}


def _m(v: float) -> str:
    return "n/a" if v != v else f"{v:,.0f} m"


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None or v != v:
        return "n/a"
    return f"{100 * v:.2f} %" if pct else f"{v:,.1f}"


def scenario_words(result: RunResult) -> list[str]:
    """The scenario as sentences."""
    sc = result.scenario
    s = result.built.summary
    subst = f", involving {' or '.join(s.substances)}" if s.substances else ""
    spread = (
        "spread evenly over the developed land of each town (grid cells of "
        f"{sc.demand.cell_m:g} m inside a sewer service area and off public land), because OCME "
        "locates deaths only to the town"
        if sc.demand.spread == "developed"
        else "kept at one point per town (on its developed land)"
    )
    excl = "; ".join(
        f"at least {e.distance_m:g} m from {e.name or e.layer}" for e in sc.candidates.exclusions
    )
    approved = (
        f" Only these municipalities are approved: {', '.join(sc.sites.approved_municipalities)}."
        if sc.sites.approved_municipalities
        else ""
    )
    per_town = (
        f"at most {sc.sites.max_per_municipality} per municipality"
        if sc.sites.max_per_municipality
        else "any number per municipality"
    )
    tie = (
        " Ties are broken by the smallest total distance from covered deaths to their site."
        if sc.objective.tie_break == "distance"
        else ""
    )
    return [
        f"- **Demand**: OCME accidental drug deaths {s.first_year}–{s.last_year} by "
        f"{s.place} place{subst}: {s.total_records:,} deaths, of which {s.placed:,} are placed in "
        f"a Connecticut town ({s.unknown:,} unknown place, {s.out_of_state:,} out of state). "
        f"Deaths are {spread}.",
        f"- **Candidates**: a {sc.candidates.spacing_m:g} m grid; eligible if inside "
        f"{', '.join(sc.candidates.within) or 'anywhere'}, not on "
        f"{', '.join(sc.candidates.outside) or 'nothing'}"
        + (f", {excl}" if excl else "")
        + f". {int(result.built.candidates['eligible'].sum()):,} of "
        f"{len(result.built.candidates):,} grid points are eligible.",
        f"- **Rules**: choose {sc.sites.p} sites, {per_town}.{approved}",
        f"- **Objective**: maximise the deaths within {sc.objective.distance_m:,.0f} m "
        f"(straight line) of a site (maximal covering).{tie}",
    ]


def report_markdown(result: RunResult) -> str:
    """The full Markdown report."""
    sc = result.scenario
    sol = result.solution
    s = result.built.summary
    sites = result.sites
    total_cov = float(sites["covered"].sum()) if len(sites) else 0.0
    share = total_cov / s.placed if s.placed else 0.0
    lines = [f"# {sc.title or sc.name}", ""]
    if sc.description:
        lines += [sc.description.strip(), ""]
    lines += ["## Summary", ""]
    if len(sites):
        towns = ", ".join(f"{r.town} (#{r.rank})" for r in sites.itertuples())
        lines += [
            f"The best {len(sites)} sites are in {towns}. Together they are within "
            f"{sc.objective.distance_m:,.0f} m of {total_cov:,.1f} of the {s.placed:,} deaths "
            f"placed in Connecticut towns in {s.first_year}–{s.last_year} ({100 * share:.1f} %). "
            f"This answer is {STATUS_WORDS.get(sol.status.value, sol.status.value)}"
            + (f" (gap {_fmt(sol.gap, pct=True)})." if sol.gap is not None else "."),
            "",
        ]
    else:
        lines += [f"No sites were chosen: {STATUS_WORDS.get(sol.status.value)}. {sol.message}", ""]
    lines += [
        "## Ranked sites",
        "",
        "| rank | town | region | covered deaths | share | nearest school | nearest station | "
        "nearest hospital | lon, lat |",
        "|---:|---|---|---:|---:|---|---|---|---|",
    ]
    wgs = sites.to_crs("EPSG:4326")
    for r, pt in zip(sites.itertuples(), wgs.geometry, strict=True):
        lines.append(
            f"| {r.rank} | {r.town} | {r.region} | {r.covered:,.1f} | {100 * r.share:.2f} % | "
            f"{_m(r.school_m)} ({r.school_name}) | {_m(r.station_m)} ({r.station_name}) | "
            f"{_m(r.hospital_m)} ({r.hospital_name}) | {pt.x:.5f}, {pt.y:.5f} |"
        )
    lines += [
        "",
        "Covered deaths are counted once, at their nearest chosen site. The share is of deaths "
        "placed in a Connecticut town in the period. Distances are straight-line metres in "
        "EPSG:6433 (NAD83(2011) / Connecticut).",
        "",
    ]
    if sol.marginal:
        lines += ["Loss if a site were dropped and replaced by the best other candidate:", ""]
        ids = result.built.problem.cand_ids
        for j in sol.selected:
            lines.append(f"- {ids[j]}: {_fmt(sol.marginal.get(j))} deaths")
        lines.append("")
    if sol.alternatives:
        ids = result.built.problem.cand_ids
        town_of = dict(
            zip(result.built.candidates["cand_id"], result.built.candidates["town"], strict=True)
        )
        lines += [
            "## Alternatives",
            "",
            "| rank | towns | sites | covered deaths | below best |",
            "|---:|---|---|---:|---:|",
        ]
        for a in sol.alternatives:
            ts = ", ".join(town_of[str(ids[j])] for j in a.selected)
            lines.append(
                f"| {a.rank} | {ts} | {', '.join(str(ids[j]) for j in a.selected)} | "
                f"{a.objective:,.1f} | {100 * a.gap_to_best:.2f} % |"
            )
        lines.append("")
    lines += ["## Scenario", "", *scenario_words(result), ""]
    lines += [
        "## Solver",
        "",
        f"- Status: **{sol.status.value}** — {STATUS_WORDS.get(sol.status.value, '')}.",
        f"- Objective {_fmt(sol.objective)}, best bound {_fmt(sol.bound)}, "
        f"gap {_fmt(sol.gap, pct=True)}.",
        f"- Solver: {sol.solver} {sol.solver_version}; model with {result.built.problem.n:,} "
        f"demand cells, {result.built.problem.m:,} eligible candidates and "
        f"{result.built.problem.pairs.nnz:,} demand–candidate pairs within the distance.",
    ]
    if sol.message:
        lines.append(f"- Note: {sol.message}")
    lines += ["", "## Data and caveats", ""]
    for e in result.inputs.manifest.get("layers", []):
        period = f", {e['period']}" if e.get("period") else ""
        lines.append(
            f"- **{e.get('title', e.get('name'))}** ({e.get('publisher', 'unknown publisher')}"
            f"{period}; {e.get('rows', '?')} rows)."
        )
        for c in e.get("caveats", []):
            lines.append(f"  - {c}")
    lines += [
        "- OCME geocodes are town or village centroids: no death is located more precisely than "
        "its town, so the position of a site inside a town reflects the spread of deaths over "
        "developed land, not known hot spots.",
        "",
        f"Scenario digest {sc.digest()}; "
        f"bundle {result.inputs.manifest.get('version', 'unversioned')}.",
    ]
    return "\n".join(lines) + "\n"
