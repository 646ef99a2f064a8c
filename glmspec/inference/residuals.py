"""Working and Anscombe residuals of a GLM fit.

Response, Pearson and deviance residuals are attributes of :class:`GLMResults`. Here:

* working residuals ``(y - mu) / mu_eta(eta)`` (R's ``residuals(type="working")``). statsmodels'
  ``resid_working`` agrees for 0/1 and weighted responses but multiplies by the number of trials
  squared for two-column binomial counts; glmspec follows R.
* Anscombe residuals as statsmodels' ``resid_anscombe`` (= ``resid_anscombe_scaled``):
  ``(A(y) - A(mu)) / (A'(mu) sqrt(scale V(mu) / w))`` with ``A' = V^(-1/3)`` and prior weights
  ``w`` (for the binomial: weights times trials, with ``y`` the proportion). Per family:

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
from scipy import special

from glmspec.errors import SpecificationError

_TWO_THIRDS = 2.0 / 3.0


def resid_working(res: Any) -> pd.Series:
    """Working residuals ``(y - mu) / mu_eta(eta)``."""
    d, rec = res.design, res.record
    values = (d.y - rec.mu) / res.family.link.mu_eta(rec.eta)
    return pd.Series(values, index=d.row_index, name="resid_working")


def _nb_alpha(family: Any) -> float:
    theta = getattr(family, "theta", None)
    if isinstance(theta, (int, float)) and theta > 0:
        return 1.0 / float(theta)
    alpha = getattr(family, "alpha", None)
    if isinstance(alpha, (int, float)) and alpha > 0:
        return float(alpha)
    raise SpecificationError("the negative binomial's theta is unknown; fit the model first.")


def _tweedie(y: np.ndarray, mu: np.ndarray, scale: float, power: float) -> np.ndarray:
    if power == 3:
        return np.log(y / mu) / np.sqrt(mu * scale)
    c = (3.0 - power) / 3.0
    return (y**c - mu**c) / c / mu ** (power / 6.0) / np.sqrt(scale)


def _binomial(y: np.ndarray, mu: np.ndarray, scale: float) -> np.ndarray:
    def cox_snell(x):
        return special.betainc(_TWO_THIRDS, _TWO_THIRDS, x) * special.beta(_TWO_THIRDS, _TWO_THIRDS)

    return (cox_snell(y) - cox_snell(mu)) / (mu * (1.0 - mu) * scale**3) ** (1.0 / 6.0)


def _negative_binomial(y: np.ndarray, mu: np.ndarray, scale: float, alpha: float) -> np.ndarray:
    def h(x):
        return special.hyp2f1(_TWO_THIRDS, 1.0 / 3.0, 5.0 / 3.0, x)

    top = y**_TWO_THIRDS * h(-alpha * y) - mu**_TWO_THIRDS * h(-alpha * mu)
    return 1.5 * top / (mu * (1.0 + alpha * mu) * scale**3) ** (1.0 / 6.0)


def anscombe_unit(family: Any, y: np.ndarray, mu: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Anscombe residuals of unit weight for ``family`` (see the module docstring)."""
    name = family.name.lower().replace(" ", "_").replace("-", "_")
    root = np.sqrt(scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "gaussian":
            return (y - mu) / root
        if name in ("binomial", "quasibinomial"):
            return _binomial(y, mu, scale)
        if name in ("poisson", "quasipoisson"):
            return 1.5 * (y**_TWO_THIRDS - mu**_TWO_THIRDS) / (mu ** (1.0 / 6.0) * root)
        if name == "gamma":
            return 3.0 * (np.cbrt(y) - np.cbrt(mu)) / np.cbrt(mu) / root
        if name in ("inverse_gaussian", "inversegaussian"):
            return np.log(y / mu) / np.sqrt(mu * scale)
        if name in ("negative_binomial", "negativebinomial", "nb", "negbin"):
            return _negative_binomial(y, mu, scale, _nb_alpha(family))
        if name == "tweedie":
            return _tweedie(y, mu, scale, float(family.var_power))
    raise SpecificationError(f"Anscombe residuals are not defined for the {family.name} family.")


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
    values = np.sqrt(d.prior_weights) * anscombe_unit(res.family, d.y, res.record.mu, scale)
    return pd.Series(values, index=d.row_index, name="resid_anscombe")
