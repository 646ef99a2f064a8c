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

Counts with the log link (Poisson, quasi-Poisson) have the same failure: the estimates do not
exist exactly when some direction ``b`` has ``x_i' b <= 0`` on every row, ``= 0`` on the rows
with a positive count and ``< 0`` on some row (Haberman 1974): along it the log-likelihood
``sum y_i x_i' b - exp(x_i' b)`` rises forever, e.g. a factor level whose counts are all zero.
That is the linear program above with the zero counts as "failures" and the positive counts as
mixed rows (:func:`find_zero_counts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize

_TOL = 1e-7


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``kind`` is "complete" or "quasi-complete"."""

    kind: str
    columns: tuple[str, ...]
    direction: tuple[float, ...]
    #: What is separated, for the multinomial (e.g. "class 'a' against the others").
    subject: str = "the outcome"

    def describe(self) -> str:
        """One sentence naming the kind and the columns involved."""
        return (
            f"{self.kind} separation: {self.subject} is perfectly predicted along "
            f"{', '.join(repr(c) for c in self.columns)}; the maximum-likelihood estimates of "
            "these coefficients do not exist (they diverge), and their standard errors are "
            "meaningless."
        )


def find_separation(
    X: np.ndarray, y: np.ndarray, prior: np.ndarray, column_names: Sequence[str]
) -> Separation | None:
    """Return the separation in ``(X, y)`` if there is one, else None.

    Three small linear programs: does a separating direction exist (Konis's LP); the sparsest
    one (least L1 norm), whose non-zero entries name the columns involved; and whether some
    direction separates *strictly* (every margin positive), which makes it complete.

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
    mixed = Xs[~binary]
    p = X.shape[1]

    exists = _linprog(-signed.sum(axis=0), -signed, np.zeros(len(signed)), mixed, [(-1, 1)] * p)
    if exists is None or -exists.fun <= _TOL * max(1, signed.shape[0]) ** 0.5:
        return None
    direction = _sparsest_direction(signed, mixed, p)
    if direction is None:
        direction = exists.x
    direction = direction / np.abs(direction).max()
    involved = np.flatnonzero(np.abs(direction) > 1e-6)
    return Separation(
        kind="complete" if _strictly_separable(signed, mixed, p) else "quasi-complete",
        columns=tuple(column_names[j] for j in involved),
        direction=tuple(float(direction[j] / scale[j]) for j in involved),
    )


def find_zero_counts(
    X: np.ndarray, y: np.ndarray, prior: np.ndarray, column_names: Sequence[str]
) -> Separation | None:
    """Return the direction along which log-link counts make the estimates diverge, or None.

    Parameters as :func:`find_separation`, with ``y`` the counts (``>= 0``).
    """
    # zero counts are "failures" (x'b <= 0), positive counts "mixed" (x'b = 0)
    found = find_separation(X, np.where(np.asarray(y) > 0, 0.5, 0.0), prior, column_names)
    if found is None:
        return None
    return replace(found, kind="zero-count", subject="a count of zero")


def _linprog(c, a_ub, b_ub, a_eq, bounds):
    has_eq = a_eq.shape[0] > 0
    result = optimize.linprog(
        c=c,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq if has_eq else None,
        b_eq=np.zeros(a_eq.shape[0]) if has_eq else None,
        bounds=bounds,
        method="highs",
    )
    return result if result.status == 0 else None


def _sparsest_direction(signed: np.ndarray, mixed: np.ndarray, p: int) -> np.ndarray | None:
    """Least-L1 direction with all margins >= 0 and total margin 1 (b = plus - minus)."""
    both = np.hstack([signed, -signed])
    total = both.sum(axis=0, keepdims=True)
    result = _linprog(
        np.ones(2 * p),
        np.vstack([-both, -total]),
        np.concatenate([np.zeros(len(signed)), [-1.0]]),
        np.hstack([mixed, -mixed]),
        [(0, None)] * (2 * p),
    )
    return None if result is None else result.x[:p] - result.x[p:]


def _strictly_separable(signed: np.ndarray, mixed: np.ndarray, p: int) -> bool:
    """Whether some direction gives every row a positive margin (no mixed rows allowed)."""
    if mixed.shape[0] or not signed.shape[0]:
        return False
    # variables (b, t): maximise t subject to signed @ b >= t, |b_j| <= 1, t <= 1
    result = _linprog(
        np.concatenate([np.zeros(p), [-1.0]]),
        np.hstack([-signed, np.ones((len(signed), 1))]),
        np.zeros(len(signed)),
        np.zeros((0, p + 1)),
        [(-1, 1)] * p + [(None, 1)],
    )
    return result is not None and -result.fun > _TOL
