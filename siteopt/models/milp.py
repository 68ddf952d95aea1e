"""A solver-neutral sparse MILP and the backends that solve it (HiGHS, CBC).

Every model in :mod:`siteopt.models` builds a :class:`Milp` (sparse constraint matrix, row and
column bounds, integrality, sense) with vectorised numpy/scipy and hands it to
:func:`solve_milp`. The backends read the solver's *own* status, objective, dual bound and gap:

* ``highs`` (default): the matrices are passed straight to ``highspy`` (``Highs.passModel``); the
  status is HiGHS's model status, the bound is ``mip_dual_bound`` and the gap ``mip_gap``.
* ``cbc``: the matrices are written to a free-format MPS file and solved by the CBC binary that
  PuLP finds (``pulp.COIN_CMD``, else the bundled ``pulp.PULP_CBC_CMD``) or the system one; the
  status comes from CBC's own solution file and log (``Optimal``, ``Stopped on time``,
  ``Infeasible``, ...), the bound from its ``Lower bound`` line, never from PuLP's mapped
  status.

Status mapping (see :func:`map_highs_status` and :func:`map_cbc_result`): ``OPTIMAL`` only when
the solver proved optimality (within ``SolverSpec.mip_gap``); a time limit, node limit or user
interrupt with an incumbent gives ``FEASIBLE`` with bound and gap; without one ``NO_SOLUTION``;
a proof of infeasibility ``INFEASIBLE``; anything else ``ERROR``.

Keyboard interrupts: a Ctrl-C during a solve asks the solver to stop (HiGHS ``cancelSolve``; CBC
receives SIGINT and stops), waits for it to return its incumbent and reports ``FEASIBLE`` or
``NO_SOLUTION`` with ``interrupted=True``. The KeyboardInterrupt is *not* re-raised: the caller
(:func:`siteopt.models.solve`) skips any further solves and returns the honest, unproved answer.
HiGHS's feasibility jump does not poll for the cancel, so it is off on huge models
(:func:`highs_run_options`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siteopt._errors import SolverError
from siteopt.models.base import SolverSpec, Status

INF = math.inf


@dataclass
class Milp:
    """A mixed-integer linear program in matrix form.

    ``row_lo <= A @ x <= row_hi``, ``col_lo <= x <= col_hi``, ``x[integer]`` integral, and
    ``sense`` * (``c @ x`` + ``offset``) is minimised (``sense = "min"``) or maximised.
    Infinite bounds are ``±inf``.
    """

    c: NDArray[np.float64]
    A: sp.csr_array | sp.csr_matrix
    row_lo: NDArray[np.float64]
    row_hi: NDArray[np.float64]
    col_lo: NDArray[np.float64]
    col_hi: NDArray[np.float64]
    integer: NDArray[np.bool_]
    sense: Literal["min", "max"] = "min"
    offset: float = 0.0
    #: model-specific HiGHS options (e.g. ``{"presolve": "off"}`` for large covering models)
    highs_options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_col(self) -> int:
        """Number of variables."""
        return int(self.c.size)

    @property
    def num_row(self) -> int:
        """Number of constraints."""
        return int(self.row_lo.size)

    def check(self) -> None:
        """Raise ``ValueError`` if the arrays are inconsistent (a programming error)."""
        nc, nr = self.num_col, self.num_row
        if self.A.shape != (nr, nc):
            raise ValueError(f"A has shape {self.A.shape}, expected {(nr, nc)}")
        for name in ("col_lo", "col_hi", "integer"):
            if getattr(self, name).shape != (nc,):
                raise ValueError(f"{name} has the wrong shape")
        if self.row_hi.shape != (nr,):
            raise ValueError("row_hi has the wrong shape")


@dataclass
class MilpResult:
    """What a backend returns: the solver's own status and numbers, model-space values."""

    status: Status
    x: NDArray[np.float64] | None
    objective: float | None  #: solver objective in the model's sense, offset included
    bound: float | None  #: best proved bound (dual bound), offset included
    gap: float | None  #: relative gap |objective - bound| / |objective|
    solver: str
    solver_version: str
    seconds: float
    raw_status: str
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def rel_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap ``|objective - bound| / |objective|`` (0 when both are 0, inf if obj is 0)."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None if objective is None else INF
    diff = abs(objective - bound)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    if objective == 0:
        return INF
    return diff / abs(objective)


# --------------------------------------------------------------------------------------------
# building helpers


def stack_rows(
    blocks: list[tuple[sp.spmatrix | sp.sparray, NDArray[np.float64], NDArray[np.float64]]],
    num_col: int,
) -> tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]:
    """Stack ``(A_block, lo, hi)`` row blocks (each with ``num_col`` columns) into one CSR."""
    mats = [sp.csr_array(b[0]) for b in blocks if b[0].shape[0] > 0]
    los = [np.asarray(b[1], dtype=np.float64) for b in blocks if b[0].shape[0] > 0]
    his = [np.asarray(b[2], dtype=np.float64) for b in blocks if b[0].shape[0] > 0]
    for mat in mats:
        if mat.shape[1] != num_col:
            raise ValueError(f"row block has {mat.shape[1]} columns, expected {num_col}")
    if not mats:
        return sp.csr_array((0, num_col)), np.zeros(0), np.zeros(0)
    A = sp.csr_array(sp.vstack(mats, format="csr"))
    return A, np.concatenate(los), np.concatenate(his)


def triplets(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    vals: NDArray[np.float64],
    shape: tuple[int, int],
) -> sp.csr_array:
    """CSR from explicit triplets. Explicit entries are kept even when a value is 0."""
    A = sp.csr_array(
        (np.asarray(vals, dtype=np.float64), (np.asarray(rows), np.asarray(cols))), shape=shape
    )
    A.sum_duplicates()
    return A


# --------------------------------------------------------------------------------------------
# HiGHS


_HIGHS_BANNER_SHOWN = False


@contextlib.contextmanager
def _quiet_stdout(active: bool) -> Iterator[None]:
    """Silence the C-level stdout (HiGHS prints a banner when the first instance is built)."""
    if not active:
        yield
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _import_highspy() -> Any:
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SolverError(
            "The HiGHS solver (Python package 'highspy') is not installed.",
            hint="Install it with `pip install highspy`, or choose solver 'cbc'.",
        ) from exc
    return highspy


def highs_version() -> str:
    """Version string of the installed HiGHS."""
    highspy = _import_highspy()
    with _quiet_stdout(not _HIGHS_BANNER_SHOWN):
        h = highspy.Highs()
    return f"HiGHS {h.version()}"


def map_highs_status(
    model_status: str, has_solution: bool, gap_ok: bool = True
) -> tuple[Status, bool]:
    """Map a HiGHS model status name to :class:`Status`; also return "stopped early".

    Parameters
    ----------
    model_status
        The ``HighsModelStatus`` member name, e.g. ``"kOptimal"`` or ``"kTimeLimit"``.
    has_solution
        Whether HiGHS holds a feasible primal solution (``primal_solution_status == 2``).
    gap_ok
        For ``kOptimal``: whether the reported gap is within the requested ``mip_gap``.
    """
    if model_status == "kOptimal":
        if has_solution and gap_ok:
            return Status.OPTIMAL, False
        return (Status.FEASIBLE, True) if has_solution else (Status.ERROR, False)
    if model_status == "kInfeasible":
        return Status.INFEASIBLE, False
    if model_status in {
        "kTimeLimit",
        "kIterationLimit",
        "kSolutionLimit",
        "kInterrupt",
        "kObjectiveBound",
        "kObjectiveTarget",
        "kMemoryLimit",
        "kUnknown",
    }:
        return (Status.FEASIBLE, True) if has_solution else (Status.NO_SOLUTION, True)
    if model_status == "kModelEmpty":
        return Status.OPTIMAL, False
    return Status.ERROR, False


#: HiGHS's feasibility-jump heuristic does not poll for interrupts (on the 100 m grid it ignored
#: Ctrl-C and SIGTERM for over a minute): it is off for models with more nonzeros than this
JUMP_MAX_NNZ = 2_000_000


def highs_run_options(milp: Milp, nnz: int) -> dict[str, Any]:
    """The model's HiGHS options, with the feasibility jump off above :data:`JUMP_MAX_NNZ`."""
    opts = dict(milp.highs_options)
    if nnz > JUMP_MAX_NNZ:
        opts.setdefault("mip_heuristic_run_feasibility_jump", False)
    return opts


#: seconds HiGHS is given to stop after a cancel before its solve is abandoned; its presolve
#: and simplex do not poll for the cancel (a 300,000-row model took a minute to stop)
CANCEL_GRACE = 2.0
#: raw status of an abandoned solve
ABANDONED = "kInterrupt (abandoned: HiGHS did not stop)"
#: abandoned solvers, kept alive until they return (their thread still uses the object)
_ABANDONED: list[Any] = []


def _run(h: Any) -> tuple[bool, bool, float]:
    """Solve in HiGHS's thread; on Ctrl-C/SIGTERM cancel, and abandon it after the grace.

    Returns (interrupted, abandoned, seconds). An abandoned solve runs on in its daemon thread
    (the CLI then exits at once, which ends it); the caller gets no solution from it.
    """
    interrupted, t0 = False, time.perf_counter()
    h.HandleUserInterrupt = True
    thread = h.startSolve()
    deadline = math.inf
    while True:
        try:
            done, _ = h.wait(0.05)
            if done:
                break
            if time.perf_counter() > deadline:
                _ABANDONED.append(h)
                return True, True, time.perf_counter() - t0
        except KeyboardInterrupt:
            interrupted = True
            h.cancelSolve()
            deadline = min(deadline, time.perf_counter() + CANCEL_GRACE)
    thread.join()
    return interrupted, False, time.perf_counter() - t0


def _pass_model(h: Any, milp: Milp, A: sp.csr_array, integrality: NDArray[np.int32]) -> Any:
    """Hand ``milp`` (rows ``A``, sorted CSR) to HiGHS ``h`` with the given integrality."""
    highspy = _import_highspy()
    return h.passModel(
        milp.num_col,
        milp.num_row,
        int(A.nnz),
        int(highspy.MatrixFormat.kRowwise),
        -1 if milp.sense == "max" else 1,
        float(milp.offset),
        np.ascontiguousarray(milp.c, dtype=np.float64),
        np.ascontiguousarray(milp.col_lo, dtype=np.float64),
        np.ascontiguousarray(milp.col_hi, dtype=np.float64),
        np.ascontiguousarray(milp.row_lo, dtype=np.float64),
        np.ascontiguousarray(milp.row_hi, dtype=np.float64),
        np.ascontiguousarray(A.indptr, dtype=np.int32),
        np.ascontiguousarray(A.indices, dtype=np.int32),
        np.ascontiguousarray(A.data, dtype=np.float64),
        integrality,
    )


def _solve_highs(milp: Milp, spec: SolverSpec, options: dict[str, Any] | None) -> MilpResult:
    global _HIGHS_BANNER_SHOWN
    highspy = _import_highspy()
    with _quiet_stdout(not _HIGHS_BANNER_SHOWN and not spec.msg):
        h = highspy.Highs()
    _HIGHS_BANNER_SHOWN = True
    h.setOptionValue("output_flag", bool(spec.msg))
    if spec.time_limit is not None:
        h.setOptionValue("time_limit", float(max(spec.time_limit, 0.0)))
    h.setOptionValue("mip_rel_gap", float(spec.mip_gap))
    if spec.threads is not None:
        h.setOptionValue("threads", int(spec.threads))
    h.setOptionValue("random_seed", 0)
    A = sp.csr_array(milp.A)
    A.sort_indices()
    for key, value in {**highs_run_options(milp, int(A.nnz)), **(options or {})}.items():
        h.setOptionValue(key, value)

    status = _pass_model(h, milp, A, np.where(milp.integer, 1, 0).astype(np.int32))
    version = f"HiGHS {h.version()}"
    if status == highspy.HighsStatus.kError:
        raise SolverError("HiGHS rejected the model (passModel failed); this is a siteopt bug.")

    interrupted, abandoned, seconds = _run(h)
    if abandoned:
        return MilpResult(
            Status.NO_SOLUTION, None, None, None, None, "highs", version, seconds, ABANDONED, True
        )

    model_status = h.getModelStatus()
    name = model_status.name if hasattr(model_status, "name") else str(model_status)
    info = h.getInfo()
    has_solution = int(info.primal_solution_status) == 2
    is_mip = bool(milp.integer.any())
    objective = float(info.objective_function_value) if has_solution else None
    if is_mip:
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
    else:
        bound = objective if name == "kOptimal" else None
    gap = rel_gap(objective, bound)
    gap_ok = gap is not None and gap <= max(spec.mip_gap, 1e-6) + 1e-12
    if name == "kOptimal" and objective is not None and bound is not None and not gap_ok:
        # absolute-gap stop: HiGHS proved |obj - bound| <= mip_abs_gap (1e-6)
        gap_ok = abs(objective - bound) <= 1e-6 + 1e-9 * abs(objective)
    mapped, _ = map_highs_status(name, has_solution, gap_ok)
    if interrupted and mapped is Status.OPTIMAL and name != "kOptimal":
        mapped = Status.FEASIBLE
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_solution else None
    note = ""
    if x is not None and objective is not None:
        note = _check_solution(milp, x, objective)
        if note and mapped is Status.OPTIMAL:
            mapped = Status.FEASIBLE
    return MilpResult(
        status=mapped,
        x=x,
        objective=objective,
        bound=bound,
        gap=gap,
        solver="highs",
        solver_version=version,
        seconds=seconds,
        raw_status=name,
        interrupted=interrupted or name == "kInterrupt",
        extra={"nodes": int(getattr(info, "mip_node_count", 0)), "check": note},
    )


def _check_solution(milp: Milp, x: NDArray[np.float64], objective: float) -> str:
    """Independent check of a solver's solution: bounds, rows, integrality and objective.

    Returns a description of the first inconsistency, or "" when the solution checks out (then
    the solver's claim can be trusted; otherwise it is not reported as optimal).
    """
    tol = 1e-6
    scale = np.maximum(1.0, np.abs(x))
    if (x < milp.col_lo - tol * scale).any() or (x > milp.col_hi + tol * scale).any():
        return "solution outside its column bounds"
    if milp.integer.any():
        xi = x[milp.integer]
        if (np.abs(xi - np.round(xi)) > 1e-5).any():
            return "solution not integral"
    act = milp.A @ x
    row_tol = tol * np.maximum(1.0, np.abs(act))
    if (act < milp.row_lo - row_tol).any() or (act > milp.row_hi + row_tol).any():
        return "solution violates a constraint"
    value = float(milp.c @ x + milp.offset)
    if abs(value - objective) > 1e-6 * max(1.0, abs(value)):
        return f"reported objective {objective:.10g} differs from c.x = {value:.10g}"
    return ""


@dataclass
class LpDuals:
    """The LP relaxation of a :class:`Milp` as HiGHS solved it: its row duals (any values are
    usable: :func:`siteopt.models.presolve.lagrangian_bounds` turns them into a valid bound)."""

    row_dual: NDArray[np.float64] | None  #: None when HiGHS stopped without a dual solution
    seconds: float
    raw_status: str
    interrupted: bool = False  #: the user pressed Ctrl-C (the LP was cancelled)


def solve_lp_duals(
    milp: Milp, spec: SolverSpec, time_limit: float | None = None, method: str = "ipm"
) -> LpDuals:
    """Solve the LP relaxation of ``milp`` (integrality dropped) with HiGHS's interior point
    (``method="simplex"``: its simplex, for the small LPs of a column generation).

    No crossover: the multipliers need not be a basic solution, only close to optimal, since
    the bound computed from them is valid for any multipliers. Always HiGHS, whatever
    ``spec.name`` says (the LP only feeds an exact bound that siteopt computes itself).
    """
    highspy = _import_highspy()
    global _HIGHS_BANNER_SHOWN
    with _quiet_stdout(not _HIGHS_BANNER_SHOWN and not spec.msg):
        h = highspy.Highs()
    _HIGHS_BANNER_SHOWN = True
    h.setOptionValue("output_flag", bool(spec.msg))
    limit = spec.time_limit if time_limit is None else time_limit
    if limit is not None:
        h.setOptionValue("time_limit", float(max(limit, 0.0)))
    if spec.threads is not None:
        h.setOptionValue("threads", int(spec.threads))
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("solver", method)
    h.setOptionValue("run_crossover", "off")
    A = sp.csr_array(milp.A)
    A.sort_indices()
    status = _pass_model(h, milp, A, np.zeros(milp.num_col, dtype=np.int32))
    if status == highspy.HighsStatus.kError:
        raise SolverError("HiGHS rejected the LP (passModel failed); this is a siteopt bug.")
    interrupted, abandoned, seconds = _run(h)
    if abandoned:
        return LpDuals(row_dual=None, seconds=seconds, raw_status=ABANDONED, interrupted=True)
    model_status = h.getModelStatus()
    name = model_status.name if hasattr(model_status, "name") else str(model_status)
    info = h.getInfo()
    dual = None
    if interrupted:
        return LpDuals(row_dual=None, seconds=seconds, raw_status=name, interrupted=True)
    if int(info.dual_solution_status) >= 1 or name == "kOptimal":
        dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        if dual.shape != (milp.num_row,) or not np.isfinite(dual).all():
            dual = None
    return LpDuals(row_dual=dual, seconds=seconds, raw_status=name)


# --------------------------------------------------------------------------------------------
# CBC


def cbc_path() -> str:
    """Path of a CBC binary: PuLP's bundled one, else the system ``cbc`` (``pulp.COIN_CMD``)."""
    try:
        import pulp
    except ImportError:
        pulp = None
    candidates: list[str] = []
    if pulp is not None:
        # COIN_CMD (PuLP >= 3.3, CBC from the ``cbc`` extra or the system) first; the older
        # PULP_CBC_CMD (bundled binary, deprecated in PuLP 3.3) as a fallback
        for cls_name in ("COIN_CMD", "PULP_CBC_CMD"):
            cls = getattr(pulp, cls_name, None)
            if cls is None:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    solver = cls(msg=False)
                    if solver.available() and solver.path:
                        candidates.append(str(solver.path))
            except Exception:  # pragma: no cover - defensive: PuLP probing failed
                continue
    system = shutil.which("cbc")
    if system:
        candidates.append(system)
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise SolverError(
        "The CBC solver is not available.",
        hint='Install it with `pip install "pulp[cbc]"` (bundled CBC) or '
        "`apt-get install coinor-cbc`, or choose solver 'highs'.",
    )


def cbc_version(path: str | None = None) -> str:
    """Version string of the CBC binary."""
    path = path or cbc_path()
    try:
        out = subprocess.run(
            [path, "-quit"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "CBC (unknown version)"
    match = re.search(r"Version:\s*(\S+)", out)
    return f"CBC {match.group(1)}" if match else "CBC (unknown version)"


def _cat(*parts: object) -> NDArray[np.str_]:
    """Element-wise string concatenation of arrays and scalars."""
    out = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        out = np.char.add(out, np.asarray(part, dtype=str))
    return out


def _fmt(values: NDArray[np.float64]) -> NDArray[np.str_]:
    return np.char.mod("%.17g", np.asarray(values, dtype=np.float64))


def write_mps(milp: Milp, path: Path) -> None:
    """Write ``milp`` as a free-format MPS file (minimisation; a max model is negated).

    Columns are named ``C<j>``, rows ``R<i>``; integer columns are wrapped in MARKER lines.
    Every explicit matrix entry is written, including zeros.
    """
    A = sp.csc_array(milp.A)
    A.sort_indices()
    sign = -1.0 if milp.sense == "max" else 1.0
    nc, nr = milp.num_col, milp.num_row
    lines: list[str] = ["NAME siteopt", "ROWS", " N OBJ"]
    lo, hi = milp.row_lo, milp.row_hi
    kind = np.where(
        np.isfinite(lo) & np.isfinite(hi) & (lo == hi),
        "E",
        np.where(
            np.isfinite(lo),
            np.where(np.isfinite(hi), "R", "G"),
            np.where(np.isfinite(hi), "L", "N"),
        ),
    )
    # free rows (no finite bound) are written as G with rhs -1e30 to keep indices aligned
    kind_w = np.where(kind == "N", "G", kind)
    kind_w = np.where(kind_w == "R", "G", kind_w)  # ranges: G lo with RANGES width
    rnames = np.char.add("R", np.arange(nr).astype(str))
    if nr:
        lines.extend(np.char.add(np.char.add(np.char.add(" ", kind_w.astype(str)), " "), rnames))
    lines.append("COLUMNS")
    cnames = np.char.add("C", np.arange(nc).astype(str))
    col_of_entry = np.repeat(np.arange(nc), np.diff(A.indptr))
    # data lines start with a space (a line starting in column 1 is a section header)
    ent = _cat(" ", cnames[col_of_entry], " ", rnames[A.indices], " ", _fmt(A.data))
    # one block per column: its objective entry (always written, so empty columns exist) and
    # its matrix entries; integer columns first inside a single INTORG/INTEND marker pair
    obj_lines = _cat(" ", cnames, " OBJ ", _fmt(sign * milp.c + 0.0))
    counts = np.diff(A.indptr)
    block_len = counts + 1
    block_start = np.concatenate([[0], np.cumsum(block_len)[:-1]])
    col_lines = np.empty(int(block_len.sum()), dtype=object)
    col_lines[block_start] = obj_lines
    entry_pos = np.ones(col_lines.size, dtype=bool)
    entry_pos[block_start] = False
    col_lines[entry_pos] = ent
    is_int_line = np.repeat(milp.integer, block_len)
    int_lines = col_lines[is_int_line]
    if int_lines.size:
        lines.append(" M0 'MARKER' 'INTORG'")
        lines.extend(int_lines.tolist())
        lines.append(" M1 'MARKER' 'INTEND'")
    lines.extend(col_lines[~is_int_line].tolist())
    lines.append("RHS")
    rhs = np.where(kind == "L", hi, np.where(kind == "N", -1e30, lo))
    rhs_nz = np.nonzero(rhs != 0)[0]
    lines.extend(_cat(" RHS ", rnames[rhs_nz], " ", _fmt(rhs[rhs_nz])).tolist())
    if milp.offset:
        lines.append(f" RHS OBJ {-sign * milp.offset:.17g}")
    rng = np.nonzero(kind == "R")[0]
    if rng.size:
        lines.append("RANGES")
        lines.extend(_cat(" RNG ", rnames[rng], " ", _fmt(hi[rng] - lo[rng])).tolist())
    lines.append("BOUNDS")
    clo, chi = milp.col_lo, milp.col_hi
    fixed = clo == chi
    rest = ~fixed
    minus_inf = rest & np.isneginf(clo)
    lo_line = rest & np.isfinite(clo) & (clo != 0)
    up_line = rest & np.isfinite(chi)
    pl_line = rest & np.isposinf(chi) & milp.integer
    bounds = np.empty(nc * 2, dtype=object)
    keep = np.zeros(nc * 2, dtype=bool)
    first = np.full(nc, "", dtype=object)
    first[fixed] = _cat("    FX BND ", cnames[fixed], " ", _fmt(clo[fixed]))
    first[minus_inf] = np.char.add("    MI BND ", cnames[minus_inf])
    first[lo_line] = _cat("    LO BND ", cnames[lo_line], " ", _fmt(clo[lo_line]))
    second = np.full(nc, "", dtype=object)
    second[up_line] = _cat("    UP BND ", cnames[up_line], " ", _fmt(chi[up_line]))
    second[pl_line] = np.char.add("    PL BND ", cnames[pl_line])
    bounds[0::2] = first
    bounds[1::2] = second
    keep[0::2] = first != ""
    keep[1::2] = second != ""
    lines.extend(bounds[keep].tolist())
    lines.append("ENDATA")
    path.write_text("\n".join(lines) + "\n")


_CBC_RESULT = re.compile(r"^Result - (.+)$", re.MULTILINE)
_CBC_OBJ = re.compile(r"^Objective value:\s+(\S+)", re.MULTILINE)
_CBC_LB = re.compile(r"^Lower bound:\s+(\S+)", re.MULTILINE)


def map_cbc_status(sol_head: str, log: str) -> tuple[Status, bool]:
    """Map CBC's own status to :class:`Status`; also return whether a solution exists.

    ``sol_head`` is the first line of CBC's solution file (``Optimal - objective value ..``,
    ``Infeasible - ..``, ``Integer infeasible - ..``, ``Stopped on time - ..``, ``Stopped on
    time (no integer solution - continuous used) - ..``); ``log`` is CBC's output, used when no
    solution file was written (e.g. ``Problem is infeasible`` found by its presolve).
    """
    head = sol_head.strip().lower()
    low = log.lower()
    if head.startswith("optimal"):
        return Status.OPTIMAL, True
    if "infeasible" in head:
        return Status.INFEASIBLE, False
    if "unbounded" in head:
        return Status.ERROR, False
    if head.startswith("stopped"):
        if "no integer solution" in head or "continuous used" in head:
            return Status.NO_SOLUTION, False
        return Status.FEASIBLE, True
    if not head and (
        "problem is infeasible" in low
        or "says infeasible" in low
        or "result - problem proven infeasible" in low
    ):
        return Status.INFEASIBLE, False
    return Status.ERROR, False


def _parse_float(match: re.Match[str] | None) -> float | None:
    if match is None:
        return None
    try:
        value = float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _solve_cbc(milp: Milp, spec: SolverSpec, options: dict[str, Any] | None) -> MilpResult:
    path = cbc_path()
    version = cbc_version(path)
    sign = -1.0 if milp.sense == "max" else 1.0
    with tempfile.TemporaryDirectory(prefix="siteopt-cbc-") as tmp:
        mps = Path(tmp) / "model.mps"
        sol = Path(tmp) / "model.sol"
        write_mps(milp, mps)
        cmd = [path, str(mps)]
        if spec.time_limit is not None:
            cmd += ["-sec", f"{max(spec.time_limit, 0.0):g}"]
        cmd += ["-ratio", f"{spec.mip_gap:g}", "-allow", "0"]
        if spec.threads is not None:
            cmd += ["-threads", str(int(spec.threads))]
        cmd += ["-randomSeed", "1", "-randomCbcSeed", "1"]
        for key, value in (options or {}).items():
            cmd += [f"-{key}", str(value)]
        cmd += ["-printingOptions", "all", "-solve", "-solution", str(sol)]
        interrupted = False
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while True:
            try:
                out, _ = proc.communicate()
                break
            except KeyboardInterrupt:
                interrupted = True
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGINT)
        seconds = time.perf_counter() - t0
        if spec.msg:
            sys.stderr.write(out)
        result_match = _CBC_RESULT.search(out)
        head = ""
        x: NDArray[np.float64] | None = None
        if sol.exists():
            text = sol.read_text()
            head = text.split("\n", 1)[0]
            x = _read_cbc_solution(text, milp.num_col)
    status, has_solution = map_cbc_status(head, out)
    raw = (
        head.split(" - ")[0].strip()
        if head
        else (result_match.group(1).strip() if result_match else "no status")
    )
    if not has_solution:
        x = None
    if interrupted and status is Status.OPTIMAL:
        status = Status.FEASIBLE
    objective = None
    if x is not None:
        objective = float(milp.c @ x + milp.offset)
    lower = _parse_float(_CBC_LB.search(out))
    bound: float | None
    if status is Status.OPTIMAL:
        bound = objective
    elif lower is not None:
        # CBC minimises sign * (c x) and reports bounds without the objective offset
        bound = sign * lower + milp.offset
    else:
        bound = None
    gap = rel_gap(objective, bound)
    if status is Status.OPTIMAL and gap is not None and gap > max(spec.mip_gap, 1e-6) + 1e-9:
        status = Status.FEASIBLE
    note = _check_solution(milp, x, objective) if x is not None and objective is not None else ""
    if note and status is Status.OPTIMAL:
        status = Status.FEASIBLE
    return MilpResult(
        status=status,
        x=x,
        objective=objective,
        bound=bound,
        gap=gap,
        solver="cbc",
        solver_version=version,
        seconds=seconds,
        raw_status=raw if not note else f"{raw} ({note})",
        interrupted=interrupted or "ctrl" in raw.lower() or "user" in raw.lower(),
    )


def _read_cbc_solution(text: str, num_col: int) -> NDArray[np.float64] | None:
    lines = text.splitlines()
    if not lines:
        return None
    x = np.zeros(num_col)
    for line in lines[1:]:  # one line per row/column: index, name, value, reduced cost
        parts = line.replace("**", " ").split()
        if len(parts) < 3:
            continue
        name, value = parts[1], parts[2]
        if name.startswith("C"):
            try:
                x[int(name[1:])] = float(value)
            except ValueError:
                continue
    return x


# --------------------------------------------------------------------------------------------


def solve_milp(milp: Milp, spec: SolverSpec, options: dict[str, Any] | None = None) -> MilpResult:
    """Solve ``milp`` with the backend named in ``spec``.

    Parameters
    ----------
    milp
        The model.
    spec
        Solver name, time limit (seconds), relative MIP gap, threads, log output.
    options
        Extra backend options (HiGHS option names, or CBC command-line flags without the dash),
        e.g. ``{"mip_max_nodes": 1}`` for HiGHS.

    Returns
    -------
    MilpResult
        Status, values and the solver's own objective, bound and gap.
    """
    milp.check()
    if spec.name == "highs":
        return _solve_highs(milp, spec, options)
    if spec.name == "cbc":
        return _solve_cbc(milp, spec, options)
    raise SolverError(f"Unknown solver {spec.name!r}.", hint="Use 'highs' (default) or 'cbc'.")


def solver_version(name: str) -> str:
    """Version string for a solver name."""
    return highs_version() if name == "highs" else cbc_version()
