"""Working and Anscombe residuals of a GLM fit.

Response, Pearson and deviance residuals are attributes of :class:`GLMResults`. Here:

* working residuals ``(y - mu) / mu_eta(eta)`` (R's ``residuals(type="working")``). statsmodels'
  ``resid_working`` agrees for 0/1 and weighted responses but multiplies by the number of trials
  squared for two-column binomial counts; glmspec follows R.
* Anscombe residuals as statsmodels' ``resid_anscombe`` (= ``resid_anscombe_scaled``):
  ``(A(y) - A(mu)) / (A'(mu) sqrt(scale V(mu) / w))`` with ``A' = V^(-1/3)`` and prior weights
  ``w`` (for the binomial: weights times trials, with ``y`` the proportion). Each family's
  ``anscombe`` method computes the unit-weight part:

  ===================  ====================================================================
  gaussian             ``sqrt(w) (y - mu) / sqrt(scale)``
  binomial             ``sqrt(w) (B(y) - B(mu)) / (mu (1 - mu) scale^3)^(1/6)``,
                       ``B(x) = Beta(2/3, 2/3) I_x(2/3, 2/3)`` (incomplete beta)
  poisson              ``sqrt(w) 1.5 (y^(2/3) - mu^(2/3)) / (mu^(1/6) sqrt(scale))``
  gamma                ``sqrt(w) 3 (y^(1/3) - mu^(1/3)) / (mu^(1/3) sqrt(scale))``
  inverse_gaussian     ``sqrt(w) log(y / mu) / sqrt(mu scale)``
  negative_binomial    ``sqrt(w) 1.5 (y^(2/3) H(-a y) - mu^(2/3) H(-a mu)) /
                       (mu (1 + a mu) scale^3)^(1/6)``, ``H(z) = 2F1(2/3, 1/3; 5/3; z)``,
                       ``a`` the NB2 ancillary parameter ``alpha = 1 / theta``
  tweedie              ``sqrt(w) (y^c - mu^c) / (c mu^(p/6) sqrt(scale))``, ``c = (3 - p) / 3``
  ===================  ====================================================================

  quasipoisson and quasibinomial use the Poisson and binomial formulas with their estimated
  dispersion (statsmodels has no quasi families). ``scaled=False`` uses ``scale = 1``
  (statsmodels' ``resid_anscombe_unscaled``). Prior weights ``w`` exclude frequency weights,
  as statsmodels' ``var_weights``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from glmspec.errors import SpecificationError


def resid_working(res: Any) -> pd.Series:
    """Working residuals ``(y - mu) / mu_eta(eta)``."""
    d, rec = res.design, res.record
    values = (d.y - rec.mu) / res.family.link.mu_eta(rec.eta)
    return pd.Series(values, index=d.row_index, name="resid_working")


def resid_anscombe(res: Any, scaled: bool = True) -> pd.Series:
    """Anscombe residuals, as statsmodels' ``resid_anscombe`` (scaled by the dispersion).

    Parameters
    ----------
    res : GLMResults
    scaled : bool
        Divide by the dispersion as statsmodels' default (``True``) or not.

    Raises
    ------
    SpecificationError
        For a family without Anscombe residuals (e.g. multinomial).
    """
    if getattr(res, "model_kind", "glm") != "glm":
        raise SpecificationError("Anscombe residuals are defined for GLM fits only.")
    d = res.design
    scale = float(res.scale) if scaled else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = res.family.anscombe(d.y, res.record.mu, scale)
    values = np.sqrt(d.prior_weights) * unit
    return pd.Series(values, index=d.row_index, name="resid_anscombe")
