"""Detection of complete and quasi-complete separation in binary-response data.

With separation the maximum-likelihood estimates do not exist: some coefficients diverge and
IRLS only stops because the deviance change becomes tiny. Following Konis (2007, the method of
R's ``detectseparation``/``safeBinaryRegression``), separation exists exactly when the linear
program

    maximise   sum_i s_i x_i' b
    subject to s_i x_i' b >= 0   for rows with only successes (s = +1) or only failures (s = -1),
               x_i' b = 0        for rows with both,
               -1 <= b_j <= 1,

has a positive optimum; the columns with non-zero ``b_j`` span the separating direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

_TOL = 1e-7


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``kind`` is "complete" or "quasi-complete"."""

    kind: str
    columns: tuple[str, ...]
    direction: tuple[float, ...]

    def describe(self) -> str:
        """One sentence naming the kind and the columns involved."""
        return (
            f"{self.kind} separation: the outcome is perfectly predicted along "
            f"{', '.join(repr(c) for c in self.columns)}; the maximum-likelihood estimates of "
            "these coefficients do not exist (they diverge), and their standard errors are "
            "meaningless."
        )


def find_separation(
    X: np.ndarray, y: np.ndarray, prior: np.ndarray, column_names: Sequence[str]
) -> Separation | None:
    """Return the separation in ``(X, y)`` if there is one, else None.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
        Proportion of successes per row.
    prior : ndarray of shape (n,)
        Prior weights times trials; rows with zero weight are ignored.
    column_names : sequence of str
    """
    used = prior > 0
    X, y = X[used], y[used]
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    sign = np.where(y >= 1, 1.0, np.where(y <= 0, -1.0, 0.0))
    binary = sign != 0
    signed = Xs[binary] * sign[binary, None]
    result = optimize.linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(signed.shape[0]),
        A_eq=Xs[~binary] if np.any(~binary) else None,
        b_eq=np.zeros(int(np.sum(~binary))) if np.any(~binary) else None,
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
    )
    if result.status != 0 or -result.fun <= _TOL * max(1, signed.shape[0]) ** 0.5:
        return None
    direction = result.x / np.abs(result.x).max()
    involved = np.flatnonzero(np.abs(direction) > 1e-6)
    margins = signed @ result.x
    kind = "complete" if np.all(margins > _TOL) and np.all(binary) else "quasi-complete"
    return Separation(
        kind=kind,
        columns=tuple(column_names[j] for j in involved),
        direction=tuple(float(direction[j] / scale[j]) for j in involved),
    )
