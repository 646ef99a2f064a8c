"""Cross-check a glmspec fit against statsmodels on the very same design matrix.

statsmodels is given the arrays glmspec built (not a re-parsed formula, since statsmodels may
use another formula engine) and is fitted to a tighter tolerance than its default, so that
the comparison measures the two solvers, not their stopping rules. Where the libraries define
a quantity differently, the statsmodels side is evaluated with glmspec's (R's) convention and
the ``convention`` column says so:

* Gaussian ``llf``: R's ``logLik`` evaluates it at the ML dispersion ``deviance / nobs``;
  statsmodels does the same for the identity link but uses the Pearson estimate for other
  links, so its family's ``loglike`` is re-evaluated at ``deviance / nobs``.
* Gamma and inverse Gaussian ``llf``: R evaluates ``sum(w * log f(y; mu, disp))`` at
  ``disp = deviance / sum(w)``; statsmodels' ``llf`` uses the Pearson dispersion and treats the
  weights as ``var_weights``, so its ``loglike`` is re-evaluated at R's dispersion with the
  weights passed as ``freq_weights``.
* Quasi families: statsmodels' Poisson/Binomial fitted with ``scale="X2"``; Tweedie: its
  default Pearson scale. These have no llf row (glmspec's llf is NaN, as R's ``NA``).
* Negative binomial: statsmodels' GLM family ``NegativeBinomial(alpha=1/theta)`` at glmspec's
  theta (statsmodels keeps alpha fixed); with theta estimated and the log link (and no
  weights), also ``discrete_model.NegativeBinomial`` (NB2), which estimates alpha by maximum
  likelihood: ``theta`` against ``1/alpha``, the joint ``llf``, and ``theta_se`` (R's
  ``glm.nb``: from the observed information of theta alone) against the alpha-alpha element
  of statsmodels' Hessian mapped to theta (``alpha = 1/theta``).
* Binomial with more than one trial per row: statsmodels gets the ``(successes, failures)``
  count form, whose log-likelihood includes the binomial coefficient, as R's.
* Prior weights are statsmodels' ``var_weights``; frequency weights its ``freq_weights``;
  ``nobs`` is compared with statsmodels' ``wnobs`` (its ``nobs`` counts rows).
* Multinomial: statsmodels' ``MNLogit``, which supports neither weights nor offsets.
* Robust covariances (``cov_type``): statsmodels is fitted with the same covariance, and
  HC1-HC3 are R's ``sandwich`` formulas evaluated from statsmodels' pieces; see
  :mod:`glmspec.verify.robust`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from glmspec.errors import SpecificationError
from glmspec.families import NegativeBinomial
from glmspec.verify.robust import fit_options, glm_bse, multinomial_bse

COLUMNS = ["quantity", "convention", "glmspec", "statsmodels", "abs_diff", "rel_diff", "passed"]


#: Above this many rows statsmodels' IRLS starts from glmspec's estimates (see ``compare``).
WARM_START_ROWS = 100_000


def compare(res, tol: float = 1e-6, warm_start: bool | None = None) -> pd.DataFrame:
    """Fit the same model with statsmodels and compare every reported quantity.

    Parameters
    ----------
    res : GLMResults or MultinomialResults
        A glmspec fit.
    tol : float
        Relative tolerance. Coefficients are compared relative to ``max(|value|, bse)`` so that
        a coefficient near zero is judged on the scale of its uncertainty; everything else
        relative to ``|value|``.
    warm_start : bool, optional
        Start statsmodels' GLM IRLS from glmspec's estimates instead of its own starting
        values. Default: when the fit has more than :data:`WARM_START_ROWS` rows, where
        statsmodels' own start costs it many passes (a minute per model at 1e6 rows). The
        comparison stays a check: statsmodels iterates until its own parameter-change test
        (1e-13 absolute plus 1e-12 relative) passes, so an estimate that is not statsmodels'
        fixed point moves and its row fails; its standard errors, deviances and llf are its
        own, computed at its converged estimates. What it no longer exercises is statsmodels'
        route from its own start. The notes (``attrs["notes"]``) say when it was used.

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``quantity``, ``convention``, ``glmspec``, ``statsmodels``,
        ``abs_diff``, ``rel_diff`` and ``passed`` (``rel_diff <= tol``). ``df.attrs["tol"]``
        holds the tolerance, ``df.attrs["passed"]`` whether every row passed and
        ``df.attrs["notes"]`` what was not compared and why.

    Raises
    ------
    SpecificationError
        The model has no statsmodels counterpart (multinomial with weights or an offset).
    """
    # Imported before the filter: importing statsmodels puts "always" filters in front.
    import statsmodels.api  # noqa: F401

    notes: list[str] = []
    if not hasattr(res, "model_kind") or not hasattr(res, "design"):
        raise SpecificationError(
            f"compare() needs a glmspec fit (the result of glmspec.fit), not {type(res).__name__}."
        )
    if getattr(res.spec, "penalty", None) is not None:
        raise SpecificationError(
            "statsmodels has no check for penalized fits with glmspec's objective; compare a "
            "penalized fit with glum or scikit-learn (same objective) instead."
        )
    if getattr(res.spec, "method", "ml") == "firth":
        raise SpecificationError(
            "the statsmodels check does not apply to Firth (bias-reduced) fits: statsmodels has "
            "no Firth estimator; compare with R's brglm2 (type='AS_mean') or logistf instead."
        )
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise SpecificationError(f"tol must be a number in (0, 1), got {tol!r}.")
    if getattr(res, "engine", None) == "dask":
        # statsmodels needs the rows in memory: check the solver on a random sample
        sample = res.sample_fit()
        notes.append(
            f"Fitted on Dask data ({res.nobs} rows): this check compares glmspec's in-memory "
            f"fit of a random sample of {sample.nobs} rows (seed 0) with statsmodels' fit of "
            "the same rows. The Dask engine's sums equal the in-memory fit's to 1e-10 "
            "(tests/test_distributed.py)."
        )
        res = sample
    if warm_start is None:
        warm_start = len(res.design.y) > WARM_START_ROWS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if res.family.is_multiclass:
            rows = _multinomial_rows(res, notes, warm_start)
        else:
            rows = _glm_rows(res, notes, warm_start)
    table = pd.DataFrame(rows, columns=_ROW_FIELDS)
    table["glmspec"] = table["glmspec"].astype(float)
    table["statsmodels"] = table["statsmodels"].astype(float)
    table["abs_diff"] = (table["glmspec"] - table["statsmodels"]).abs()
    table["rel_diff"] = table["abs_diff"] / np.maximum(table.pop("abs_diff_scale"), 1e-300)
    table["passed"] = table["rel_diff"] <= tol
    table.attrs["tol"] = tol
    table.attrs["passed"] = bool(table["passed"].all())
    table.attrs["notes"] = notes
    return table[COLUMNS]


_ROW_FIELDS = [*COLUMNS[:4], "abs_diff_scale"]


def _coefficient_rows(names, ours, theirs, bse):
    """Coefficient rows; the difference is judged relative to max(|value|, its SE)."""
    for name, a, b, se in zip(names, ours, theirs, bse, strict=True):
        yield (f"coef[{name}]", "maximum likelihood", a, b, max(abs(b), se))


def _bse_rows(names, ours, theirs, label):
    for name, a, b in zip(names, ours, theirs, strict=True):
        yield (f"bse[{name}]", label, a, b, abs(b))


def _fitted_columns(res) -> np.ndarray:
    """Mask of the design columns glmspec estimated: all but those ``singular="drop"`` left out.

    R's ``glm`` leaves aliased columns out of the fit (NA coefficients); statsmodels would fit
    them by pseudo-inverse (minimum-norm coefficients), so it is given the same reduced design.
    """
    aliased = set(getattr(res, "aliased", ()) or ())
    return np.array([name not in aliased for name in res.design.column_names])


def _statsmodels_glm(res, warm_start: bool = False):
    import statsmodels.api as sm

    design, family = res.design, res.family
    fitted_columns = _fitted_columns(res)
    freq_all = getattr(design, "freq_weights", None)
    total = design.prior_weights if freq_all is None else design.prior_weights * freq_all
    # R (and glmspec) ignore rows with zero weight; statsmodels would count them.
    used = total > 0
    prior, y = design.prior_weights[used], design.y[used]
    trials = None if design.trials is None else design.trials[used]
    # Count form only where the llf needs the binomial coefficient: statsmodels' X2 scale
    # ignores the numbers of trials of the count form, so quasibinomial gets proportions.
    if (
        family.proportion_response
        and family.has_loglik
        and ((trials is not None and np.any(trials > 1)) or np.any(prior != 1))
    ):
        trials = trials if np.any(trials > 1) else prior
        endog = np.column_stack([trials * y, trials * (1 - y)])
        var_weights = prior / trials
    else:
        endog, var_weights = y, prior
    model = sm.GLM(
        endog,
        np.asarray(design.X)[used][:, fitted_columns],
        family=family.statsmodels_family(),
        offset=design.offset[used] if np.any(design.offset) else None,
        var_weights=var_weights,
        freq_weights=None if freq_all is None else freq_all[used],
    )
    fitted = model.fit(
        method="IRLS",
        start_params=(np.asarray(res.params, dtype=float)[fitted_columns] if warm_start else None),
        maxiter=1000,
        tol_criterion="params",
        atol=1e-13,
        rtol=1e-12,
        scale="X2" if family.is_quasi else None,
        **fit_options(res, used),
    )
    return model, fitted, used


def _llf_row(res, model, sm_res, notes):
    """The llf row with both sides under R's convention, or None when there is no llf."""
    family = res.family
    if not family.has_loglik:
        notes.append(f"llf not compared: {family.llf_convention}.")
        return None
    label = "full log-likelihood, R logLik"
    sm_llf = sm_res.llf
    if not family.fixed_scale:
        # statsmodels' llf uses the Pearson dispersion: re-evaluate its loglike at R's
        var_weights, freq_weights = model.var_weights, model.freq_weights
        if family.weights_multiply_log_density:  # R: sum(w * log f), w as frequencies
            var_weights, freq_weights = np.ones_like(var_weights), var_weights * freq_weights
        scale = family.loglik_scale(
            sm_res.deviance, model.wnobs, sm_res.scale, weight_sum=np.sum(freq_weights)
        )
        sm_llf = sm_res.family.loglike(model.endog, sm_res.mu, var_weights, freq_weights, scale)
    if family.statsmodels_llf_note is not None:
        label += f" ({family.statsmodels_llf_note})"
    return ("llf", label, res.llf, sm_llf, abs(sm_llf))


def _glm_rows(res, notes, warm_start=False):
    model, sm_res, used = _statsmodels_glm(res, warm_start)
    if warm_start:
        notes.append(
            f"statsmodels' IRLS started from glmspec's estimates ({len(res.design.y)} rows) and "
            f"took {sm_res.fit_history['iteration']} iteration(s) to meet its own convergence "
            "test (parameter change below 1e-13 + 1e-12 relative); its standard errors, "
            "deviances and llf are computed at its own converged estimates."
        )
    fitted_columns = _fitted_columns(res)
    names = list(np.asarray(res.design.column_names, dtype=object)[fitted_columns])
    params = np.asarray(res.params, dtype=float)[fitted_columns]
    bse = np.asarray(res.bse, dtype=float)[fitted_columns]
    if not fitted_columns.all():
        notes.append(
            f"aliased column(s) {list(res.aliased)} left out of statsmodels' design, as R's glm "
            "leaves them out of its fit (NA coefficients; statsmodels would fit them by "
            "pseudo-inverse): every other quantity is compared."
        )
    family = res.family
    rows = list(_coefficient_rows(names, params, np.asarray(sm_res.params), bse))
    if family.fixed_scale:
        scale_label = "fixed at 1"
    elif family.is_quasi:
        scale_label = "Pearson chi2 / df_resid (R summary.glm; statsmodels fit(scale='X2'))"
    else:
        scale_label = "Pearson chi2 / df_resid (R summary.glm; statsmodels default)"
    sm_bse, bse_label = glm_bse(res, model, sm_res, used)
    rows += _bse_rows(names, bse, sm_bse, bse_label)
    null_label = "intercept-only model with the offset"
    sm_null = sm_res.null_deviance
    if not res.design.has_intercept:
        # R's null model without an intercept is mu = linkinv(offset); statsmodels always
        # fits a constant, so evaluate its deviance at R's null means instead.
        offset = np.zeros(model.endog.shape[0]) if model.offset is None else model.offset
        null_mu = sm_res.family.link.inverse(offset)
        sm_null = sm_res.family.deviance(
            model.endog, null_mu, model.var_weights, model.freq_weights
        )
        null_label = "no intercept: mu = linkinv(offset), as R"
    llf = _llf_row(res, model, sm_res, notes)
    rows += [] if llf is None else [llf]
    freq = getattr(res.design, "freq_weights", None) is not None
    nobs_label = "sum of freq_weights (statsmodels wnobs)" if freq else "rows with positive weight"
    rows += [
        (
            "deviance",
            "sum of weighted unit deviances",
            res.deviance,
            sm_res.deviance,
            abs(sm_res.deviance),
        ),
        ("null_deviance", null_label, res.null_deviance, sm_null, abs(sm_null)),
        ("scale", scale_label, res.scale, sm_res.scale, abs(sm_res.scale)),
        ("nobs", nobs_label, res.nobs, model.wnobs, abs(model.wnobs)),
        ("df_resid", "nobs - rank", res.df_resid, sm_res.df_resid, abs(sm_res.df_resid)),
    ]
    if isinstance(family, NegativeBinomial):
        rows += _negbin_rows(res, notes, warm_start)
    return [dict(zip(_ROW_FIELDS, r, strict=True)) for r in rows]


def _negbin_rows(res, notes, warm_start=False):
    """theta, its SE and the joint llf against statsmodels' NB2 (alpha by ML)."""
    from statsmodels.discrete.discrete_model import NegativeBinomial as NB2

    design = res.design
    if not res.theta_estimated:
        notes.append("theta was fixed by the user: no theta rows.")
        return []
    reasons = []
    if res.family.link.name != "log":
        reasons.append("statsmodels' NB2 has the log link only")
    if design.weights_given or getattr(design, "freq_weights", None) is not None:
        reasons.append("statsmodels' NB2 takes no weights")
    if reasons:
        notes.append(f"theta not compared with statsmodels: {'; '.join(reasons)}.")
        return []
    offset = design.offset if np.any(design.offset) else None
    fitted_columns = _fitted_columns(res)
    X = np.asarray(design.X)[:, fitted_columns]
    model = NB2(design.y, X, loglike_method="nb2", offset=offset)
    start = None
    if warm_start:
        start = np.r_[np.asarray(res.params, dtype=float)[fitted_columns], 1.0 / res.theta]
        notes.append("statsmodels' NB2 started from glmspec's estimates and theta.")
    fitted = model.fit(start_params=start, method="newton", maxiter=300, tol=1e-12, disp=0)
    alpha = float(fitted.params[-1])
    sm_theta = 1.0 / alpha
    # d/dtheta = -alpha^2 d/dalpha; at the maximum the score term vanishes, so
    # I_theta = alpha^4 I_alpha (the alpha-alpha element, beta held fixed as in glm.nb).
    info_alpha = -float(model.hessian(fitted.params)[-1, -1])
    sm_se = 1.0 / np.sqrt(info_alpha * alpha**4) if info_alpha > 0 else float("nan")
    return [
        (
            "theta",
            "ML estimate (glm.nb); statsmodels NB2: 1/alpha",
            res.theta,
            sm_theta,
            abs(sm_theta),
        ),
        (
            "theta_se",
            "1/sqrt(observed information of theta given beta), R's SE.theta; statsmodels: "
            "alpha-alpha element of the NB2 Hessian, theta = 1/alpha",
            res.theta_se,
            sm_se,
            abs(sm_se),
        ),
        (
            "llf_joint",
            "NB2 log-likelihood at the joint ML (beta, theta); statsmodels NB2 llf",
            res.llf,
            fitted.llf,
            abs(fitted.llf),
        ),
    ]


def _multinomial_rows(res, notes, warm_start=False):
    import statsmodels.api as sm

    design = res.design
    if design.weights_given or design.offset_given:
        raise SpecificationError(
            "statsmodels' MNLogit supports neither weights nor offsets; this multinomial fit "
            "cannot be cross-checked."
        )
    # statsmodels' MNLogit takes its (p, K - 1) parameters flattened column by column
    start = np.asarray(res.params, dtype=float).ravel(order="F") if warm_start else None
    sm_res = sm.MNLogit(design.y, np.asarray(design.X)).fit(
        start_params=start,
        method="newton",
        maxiter=1000,
        tol=1e-12,
        disp=False,
        **fit_options(res),
    )
    if warm_start:
        notes.append(
            f"statsmodels' MNLogit started from glmspec's estimates ({len(design.y)} rows) and "
            "iterated to its own convergence test."
        )
    sm_bse, bse_label = multinomial_bse(res, sm_res)
    names = list(design.column_names)
    rows = []
    for k, cls in enumerate(res.params.columns):
        labels = [f"{n} [{cls}]" for n in names]
        ours, theirs = res.params[cls].to_numpy(), np.asarray(sm_res.params)[:, k]
        se_ours, se_theirs = res.bse[cls].to_numpy(), sm_bse[:, k]
        rows += _coefficient_rows(labels, ours, theirs, se_ours)
        rows += _bse_rows(labels, se_ours, se_theirs, bse_label)
    rows += [
        ("llf", "full log-likelihood", res.llf, sm_res.llf, abs(sm_res.llf)),
        ("deviance", "-2 llf", res.deviance, -2 * sm_res.llf, abs(2 * sm_res.llf)),
        ("scale", "fixed at 1", 1.0, 1.0, 1.0),
        ("nobs", "rows", res.nobs, sm_res.nobs, abs(sm_res.nobs)),
    ]
    return [dict(zip(_ROW_FIELDS, r, strict=True)) for r in rows]
