"""Cross-check a glmspec fit against statsmodels on the very same design matrix.

statsmodels is given the arrays glmspec built (not a re-parsed formula, since statsmodels may
use another formula engine) and is fitted to a tighter tolerance than its default, so that
the comparison measures the two solvers, not their stopping rules. Where the libraries define
a quantity differently, the statsmodels side is evaluated with glmspec's (R's) convention and
the ``convention`` column says so:

* Gaussian ``llf``: R's ``logLik`` evaluates it at the ML dispersion ``deviance / nobs``;
  statsmodels does the same for the identity link but uses the Pearson estimate for other
  links, so its family's ``loglike`` is re-evaluated at ``deviance / nobs``.
* Binomial with more than one trial per row: statsmodels gets the ``(successes, failures)``
  count form, whose log-likelihood includes the binomial coefficient, as R's.
* Prior weights are statsmodels' ``var_weights``.
* Multinomial: statsmodels' ``MNLogit``, which supports neither weights nor offsets.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from glmspec.errors import SpecificationError

_SM_FAMILIES = {"gaussian": "Gaussian", "binomial": "Binomial", "poisson": "Poisson"}
_SM_LINKS = {
    "identity": "Identity",
    "log": "Log",
    "logit": "Logit",
    "probit": "Probit",
    "cloglog": "CLogLog",
    "cauchit": "Cauchy",
    "inverse": "InversePower",
    "sqrt": "Sqrt",
    "inverse_squared": "InverseSquared",
}
COLUMNS = ["quantity", "convention", "glmspec", "statsmodels", "abs_diff", "rel_diff", "passed"]


def compare(res, tol: float = 1e-6) -> pd.DataFrame:
    """Fit the same model with statsmodels and compare every reported quantity.

    Parameters
    ----------
    res : GLMResults or MultinomialResults
        A glmspec fit.
    tol : float
        Relative tolerance. Coefficients are compared relative to ``max(|value|, bse)`` so that
        a coefficient near zero is judged on the scale of its uncertainty; everything else
        relative to ``|value|``.

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``quantity``, ``convention``, ``glmspec``, ``statsmodels``,
        ``abs_diff``, ``rel_diff`` and ``passed`` (``rel_diff <= tol``). ``df.attrs["tol"]``
        holds the tolerance and ``df.attrs["passed"]`` whether every row passed.

    Raises
    ------
    SpecificationError
        The model has no statsmodels counterpart (multinomial with weights or an offset).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if res.model_kind == "multinomial":
            rows = _multinomial_rows(res)
        else:
            rows = _glm_rows(res)
    table = pd.DataFrame(rows, columns=_ROW_FIELDS)
    table["glmspec"] = table["glmspec"].astype(float)
    table["statsmodels"] = table["statsmodels"].astype(float)
    table["abs_diff"] = (table["glmspec"] - table["statsmodels"]).abs()
    table["rel_diff"] = table["abs_diff"] / np.maximum(table.pop("abs_diff_scale"), 1e-300)
    table["passed"] = table["rel_diff"] <= tol
    table.attrs["tol"] = tol
    table.attrs["passed"] = bool(table["passed"].all())
    return table[COLUMNS]


_ROW_FIELDS = [*COLUMNS[:4], "abs_diff_scale"]


def _coefficient_rows(names, ours, theirs, bse):
    """Coefficient rows; the difference is judged relative to max(|value|, its SE)."""
    for name, a, b, se in zip(names, ours, theirs, bse, strict=True):
        yield (f"coef[{name}]", "maximum likelihood", a, b, max(abs(b), se))


def _bse_rows(names, ours, theirs, label):
    for name, a, b in zip(names, ours, theirs, strict=True):
        yield (f"bse[{name}]", label, a, b, abs(b))


def _statsmodels_glm(res):
    import statsmodels.api as sm

    design, family = res.design, res.family
    sm_link = getattr(sm.families.links, _SM_LINKS[family.link.name])()
    sm_family = getattr(sm.families, _SM_FAMILIES[family.name])(sm_link)
    # R (and glmspec) ignore rows with zero prior weight; statsmodels would count them.
    used = design.prior_weights > 0
    prior, y = design.prior_weights[used], design.y[used]
    trials = None if design.trials is None else design.trials[used]
    if family.name == "binomial" and (
        (trials is not None and np.any(trials > 1)) or np.any(prior != 1)
    ):
        trials = trials if np.any(trials > 1) else prior
        endog = np.column_stack([trials * y, trials * (1 - y)])
        var_weights = prior / trials
    else:
        endog, var_weights = y, prior
    model = sm.GLM(
        endog,
        np.asarray(design.X)[used],
        family=sm_family,
        offset=design.offset[used] if design.offset_given else None,
        var_weights=var_weights,
    )
    fitted = model.fit(method="IRLS", maxiter=1000, tol_criterion="params", atol=1e-13, rtol=1e-12)
    return model, fitted


def _glm_rows(res):
    model, sm_res = _statsmodels_glm(res)
    names = list(res.design.column_names)
    rows = list(_coefficient_rows(names, res.params, np.asarray(sm_res.params), res.bse))
    rows += _bse_rows(names, res.bse, np.asarray(sm_res.bse), "sqrt(diag(scale * inv(X'WX)))")
    null_label = "intercept-only model with the offset"
    sm_null = sm_res.null_deviance
    if not res.design.has_intercept:
        # R's null model without an intercept is mu = linkinv(offset); statsmodels always
        # fits a constant, so evaluate its deviance at R's null means instead.
        offset = np.zeros(model.endog.shape[0]) if model.offset is None else model.offset
        null_mu = sm_res.family.link.inverse(offset)
        sm_null = sm_res.family.deviance(model.endog, null_mu, model.var_weights)
        null_label = "no intercept: mu = linkinv(offset), as R"
    llf_label = "full log-likelihood, R logLik"
    sm_llf = sm_res.llf
    if res.family.name == "gaussian":
        scale = sm_res.deviance / res.nobs
        sm_llf = sm_res.family.loglike(
            model.endog, sm_res.mu, model.var_weights, model.freq_weights, scale
        )
        llf_label += " (Gaussian at dispersion deviance/nobs)"
    rows += [
        ("llf", llf_label, res.llf, sm_llf, abs(sm_llf)),
        (
            "deviance",
            "sum of prior-weighted unit deviances",
            res.deviance,
            sm_res.deviance,
            abs(sm_res.deviance),
        ),
        ("null_deviance", null_label, res.null_deviance, sm_null, abs(sm_null)),
        (
            "scale",
            "1 or Pearson chi2 / df_resid (R summary.glm)",
            res.scale,
            sm_res.scale,
            abs(sm_res.scale),
        ),
        ("nobs", "rows with positive weight", res.nobs, sm_res.nobs, abs(sm_res.nobs)),
    ]
    return [dict(zip(_ROW_FIELDS, r, strict=True)) for r in rows]


def _multinomial_rows(res):
    import statsmodels.api as sm

    design = res.design
    if design.weights_given or design.offset_given:
        raise SpecificationError(
            "statsmodels' MNLogit supports neither weights nor offsets; this multinomial fit "
            "cannot be cross-checked."
        )
    sm_res = sm.MNLogit(design.y, design.X).fit(
        method="newton", maxiter=1000, tol=1e-12, disp=False
    )
    names = list(design.column_names)
    rows = []
    for k, cls in enumerate(res.params.columns):
        labels = [f"{n} [{cls}]" for n in names]
        ours, theirs = res.params[cls].to_numpy(), np.asarray(sm_res.params)[:, k]
        se_ours, se_theirs = res.bse[cls].to_numpy(), np.asarray(sm_res.bse)[:, k]
        rows += _coefficient_rows(labels, ours, theirs, se_ours)
        rows += _bse_rows(labels, se_ours, se_theirs, "sqrt(diag(inv(Hessian)))")
    rows += [
        ("llf", "full log-likelihood", res.llf, sm_res.llf, abs(sm_res.llf)),
        ("deviance", "-2 llf", res.deviance, -2 * sm_res.llf, abs(2 * sm_res.llf)),
        ("scale", "fixed at 1", 1.0, 1.0, 1.0),
        ("nobs", "rows", res.nobs, sm_res.nobs, abs(sm_res.nobs)),
    ]
    return [dict(zip(_ROW_FIELDS, r, strict=True)) for r in rows]
