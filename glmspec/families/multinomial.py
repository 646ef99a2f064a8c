"""The multinomial family and its softmax link (R's ``nnet::multinom``, statsmodels' ``MNLogit``).

The response is one column of ``K >= 2`` classes; the first (sorted, or a Categorical's first
category) is the reference. Class ``k`` has its own coefficients ``beta_k`` and linear
predictor ``eta_k = X beta_k`` (``eta = 0`` for the reference), and the softmax link gives the
probabilities ``p_k = exp(eta_k) / sum_j exp(eta_j)``. The dispersion is fixed at 1 and the
log-likelihood is ``sum w_i log p_i[y_i]``, with every constant. The fit itself is
:func:`glmspec.solvers.multinomial.fit_multinomial`: its Newton steps work on the whole
``(K - 1) p`` coefficient vector, not on IRLS's per-row weights, so the per-row methods of
:class:`~glmspec.families.base.Family` (variance, unit deviance) do not apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from glmspec.errors import ResponseError, SpecificationError
from glmspec.families.base import OPEN_UNIT_INTERVAL, Family
from glmspec.families.links import Link, get_link


class Softmax(Link):
    """``p_k = exp(eta_k) / sum_j exp(eta_j)`` with ``eta = 0`` for the reference class.

    ``eta`` has one column per non-reference class, ``mu`` one per class (reference first).
    """

    name = "softmax"

    def link(self, mu):
        mu = np.asarray(mu, dtype=float)
        return np.log(mu[:, 1:]) - np.log(mu[:, :1])

    def inverse(self, eta):
        eta = np.asarray(eta, dtype=float)
        return special.softmax(np.column_stack([np.zeros(len(eta)), eta]), axis=1)

    def valid_eta(self, eta):
        return bool(np.all(np.isfinite(eta)))


def check_softmax_link(link: Any) -> Softmax:
    """The multinomial's only link, asked for as ``"softmax"`` or ``"logit"`` (its binary case)."""
    if link is None or isinstance(link, Softmax):
        return Softmax()
    if isinstance(link, str) and link.strip().lower() == "softmax":
        return Softmax()
    if get_link(link).name != "logit":
        raise SpecificationError(
            f"the multinomial family uses the softmax link only (link='softmax' or 'logit'), "
            f"not {link!r}."
        )
    return Softmax()


class Multinomial(Family):
    """Multinomial (softmax) model of a response with two or more classes."""

    name = "multinomial"
    canonical_link = "softmax"
    allowed_links = ("softmax", "logit")
    fixed_scale = True
    is_multiclass = True
    categorical_response = True
    mean_domain = OPEN_UNIT_INTERVAL

    def _resolve_link(self, link):
        return check_softmax_link(link)

    @classmethod
    def allows_link(cls, link) -> bool:
        try:
            check_softmax_link(link)
        except SpecificationError:
            return False
        return True

    def __repr__(self) -> str:
        return "Multinomial(link='softmax')"

    @property
    def ratio_label(self) -> str:
        """``exp(estimate)`` is the relative risk ratio against the reference class."""
        return "relative risk ratio"

    @classmethod
    def read_response(cls, values, name, *, levels=None, column_names=()):
        """Class codes and labels (sorted; unused levels dropped) of the response's values.

        ``values`` is the response column as evaluated (a Categorical keeps its categories'
        order). Returns ``(codes, None, classes)``.
        """
        raw = np.asarray(values)
        if raw.ndim != 1:
            raise ResponseError(f"multinomial response {name!r} must be a single column.")
        if raw.dtype.kind == "f" and np.any(raw != np.round(raw)):
            raise ResponseError(
                f"multinomial response {name!r} holds non-integer numbers; it must be a factor, "
                "text or integer class labels (a continuous response needs another family)."
            )
        categorical = pd.Categorical(raw if not hasattr(values, "cat") else values)
        classes = tuple(categorical.categories)
        codes = categorical.codes.astype(np.int64)
        present = np.unique(codes)
        if len(present) < 2:
            raise ResponseError(
                f"multinomial response {name!r} has a single class {classes[present[0]]!r}; "
                "it needs at least two."
            )
        if len(present) < len(classes):
            # unused categories are dropped so every class is estimable
            categorical = categorical.remove_unused_categories()
            classes, codes = tuple(categorical.categories), categorical.codes.astype(np.int64)
        return codes, None, classes

    def check_response(self, y, weights, column):
        """Class codes are checked by :meth:`read_response`."""

    def statsmodels_family(self) -> Any:
        raise SpecificationError(
            "statsmodels fits the multinomial with its MNLogit model, not a GLM family."
        )
