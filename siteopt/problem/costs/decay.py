"""Distance-decay weights of demand-candidate pairs, for the attendance objective.

The kinds follow ArcGIS Location-Allocation "maximize attendance" and match
:class:`siteopt.models.base.Decay`:

* ``linear``: ``max(0, 1 - d / cutoff)`` (``d`` and ``cutoff`` in the cost unit);
* ``power``: ``(1 + d) ** -beta``, 0 beyond the cutoff;
* ``exponential``: ``exp(-beta * d)``, 0 beyond the cutoff;

with ``d`` in kilometres for ``power`` and ``exponential`` (costs in metres are divided by
1000; pass ``scale`` for another unit, e.g. ``scale=1.0`` to use minutes as they are). ArcGIS
uses ``d ** -beta`` for the power kind, which is infinite at ``d = 0``; the ``1 + d`` form keeps
the weight of a co-located pair at 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from siteopt._errors import InputError
from siteopt.models.base import Decay, Pairs


def decay_weights(
    cost: ArrayLike, decay: Decay, cutoff: float, *, scale: float = 0.001
) -> NDArray[np.float64]:
    """Weight in [0, 1] of each pair at cost ``cost``.

    Parameters
    ----------
    cost
        Pair costs (metres by default), any shape; must be >= 0.
    decay
        Kind and ``beta``.
    cutoff
        Costs above it weigh 0 (same unit as ``cost``). Must be finite for ``linear``.
    scale
        Multiplier taking ``cost`` to the unit ``beta`` is expressed in, for ``power`` and
        ``exponential`` (default 0.001: metres to kilometres).

    Returns
    -------
    Weights of the same shape as ``cost``.

    Raises
    ------
    InputError
        On negative or NaN costs, an invalid ``beta``, a non-finite cutoff for ``linear``, or an
        unknown kind.
    """
    d = np.asarray(cost, dtype=np.float64)
    if d.size and (np.isnan(d).any() or (d < 0).any()):
        raise InputError("decay costs must be >= 0 and not NaN; check the cost matrix.")
    cutoff = float(cutoff)
    if np.isnan(cutoff) or cutoff < 0:
        raise InputError(f"decay cutoff must be >= 0; got {cutoff}.")
    inside = d <= cutoff
    if decay.kind == "linear":
        if not np.isfinite(cutoff) or cutoff == 0:
            raise InputError(
                "linear decay needs a finite cutoff > 0 (the cost at which the weight reaches 0)."
            )
        w = np.clip(1.0 - d / cutoff, 0.0, 1.0)
    elif decay.kind in ("power", "exponential"):
        beta = float(decay.beta)
        if not np.isfinite(beta) or beta <= 0:
            raise InputError(f"decay beta must be a finite number > 0; got {decay.beta}.")
        if not np.isfinite(scale) or scale <= 0:
            raise InputError(f"decay scale must be a finite number > 0; got {scale}.")
        dk = d * scale
        w = (1.0 + dk) ** -beta if decay.kind == "power" else np.exp(-beta * dk)
    else:
        raise InputError(
            f"unknown decay kind {decay.kind!r}; use 'linear', 'power' or 'exponential'."
        )
    return np.where(inside, w, 0.0).astype(np.float64)


def pair_weights(pairs: Pairs, decay: Decay, *, scale: float = 0.001) -> NDArray[np.float64]:
    """Decay weight of every stored pair of ``pairs``, using ``pairs.cutoff`` as the cutoff.

    See :func:`decay_weights`; ``linear`` needs pairs built with a finite cutoff.
    """
    return decay_weights(pairs.cost, decay, pairs.cutoff, scale=scale)
