"""The conventions note of each model in a report: dispersion estimator, weights, llf
convention, t or z tests, the response coding and every factor's reference level.

Plain data only (a list of ``{"topic", "text"}``), rendered by the templates like the other
tables of :mod:`glmspec.report.tables`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glmspec.report import stored
from glmspec.report.values import LEVEL


def conventions(res: Any) -> list[dict[str, str]]:
    """The conventions note of one fitted model, one ``{"topic", "text"}`` per topic."""
    family = res.family.name
    design = res.design
    notes = []
    if res.family.fixed_scale:
        notes.append(("scale", f"Dispersion fixed at 1 ({family} family)."))
    else:
        notes.append(
            ("scale", "Dispersion estimated as Pearson chi-square / df_resid (R summary.glm).")
        )
    notes += _family_notes(res)
    if getattr(res, "engine", None) == "dask":
        notes.append(
            (
                "engine",
                f"Fitted on Dask data in {res.design.plan_partitions} partitions: every sum over "
                "rows (deviance, information, log-likelihood, Pearson chi-square, null "
                "deviance) was computed on the workers; plots use a random sample of rows and "
                "the statsmodels check an in-memory fit of that sample.",
            )
        )
    cov_type = getattr(res, "cov_type", "nonrobust")
    penalty = getattr(res.spec, "penalty", None)
    if penalty is not None:
        notes.append(
            (
                "penalty",
                f"Penalized fit ({penalty}, alpha={res.spec.alpha:g}, l1_ratio="
                f"{res.spec.l1_ratio:g}) of glum's and scikit-learn's objective deviance / "
                "(2 sum w) + alpha (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|^2), intercept "
                "unpenalized: standard errors, tests and intervals are not given.",
            )
        )
    elif cov_type == "nonrobust":
        notes.append(
            ("covariance", "Model-based covariance: dispersion x inverse Fisher information.")
        )
    else:
        detail = " clustered by the given groups" if cov_type == "cluster" else ""
        notes.append(
            (
                "covariance",
                f"Robust sandwich covariance {cov_type}{detail}; tests and intervals use the "
                "normal distribution (as statsmodels' GLM and R's lmtest::coeftest).",
            )
        )
    counts = (
        res.family.proportion_response and design.trials is not None and np.any(design.trials != 1)
    )
    if res.spec.weights is not None:
        weights = (
            f"Weights {res.spec.weights!r} are prior weights as in R's glm() (statsmodels "
            "var_weights), not frequency weights."
        )
        if counts:
            weights += " For binomial counts they are multiplied by the numbers of trials."
    elif counts:
        weights = (
            "No weights given; for binomial counts the prior weights are the numbers of "
            "trials (successes + failures), as in R's glm()."
        )
    else:
        weights = "No weights: every row has prior weight 1."
    notes.append(("weights", weights))
    if res.spec.offset is not None:
        notes.append(("offset", f"Offset {res.spec.offset!r} is added to the linear predictor."))
    notes += _weight_notes(res)
    if res.family.is_multiclass:
        llf = "Log-likelihood is the full log-likelihood with all constants, as R's logLik"
    else:
        llf = f"Log-likelihood: {res.family.llf_convention}"
    notes.append(("llf", llf + "."))
    if res.use_t:
        test = f"Wald tests and intervals use Student's t with df_resid = {res.df_resid} df."
    else:
        test = "Wald tests and intervals use the normal distribution (z), dispersion fixed."
    notes.append(("tests", test + f" Intervals are {LEVEL:.0%} Wald intervals."))
    aic = "AIC = -2 llf + 2k and BIC = -2 llf + log(nobs) k, k = number of coefficients"
    if res.family.n_dispersion_params:
        aic += " + 1 for the estimated dispersion (R; statsmodels' aic does not count it)"
    notes.append(("aic", aic + "."))
    for factor, levels in design.factor_levels.items():
        notes.append(
            (
                "reference",
                f"Factor {factor}: reference level {str(levels[0])!r} "
                f"(levels {', '.join(str(v) for v in levels)}).",
            )
        )
    notes += _response_notes(res)
    unstored = stored.unstored_reason(res)
    if unstored is not None:
        notes.append(("prediction", f"Not stored in {stored.FILE} for glmspec predict: {unstored}"))
    return [{"topic": topic, "text": text} for topic, text in notes]


def _family_notes(res: Any) -> list[tuple[str, str]]:
    """What the negative binomial theta and the Tweedie variance power are."""
    notes = []
    if getattr(res, "theta", None) is not None:
        if res.theta_estimated:
            text = (
                f"Theta = {res.theta:.6g} (SE {res.theta_se:.4g}) estimated by maximum "
                "likelihood, alternating with IRLS as R's MASS::glm.nb; its SE is "
                "1/sqrt(observed information of theta). AIC counts theta as a parameter."
            )
        else:
            text = f"Theta = {res.theta:.6g} fixed by the user (not counted by AIC)."
        text += f" Var(y) = mu + mu^2/theta; statsmodels uses alpha = 1/theta = {res.alpha:.6g}."
        notes.append(("theta", text))
    var_power = getattr(res.family, "var_power", None)
    if var_power is not None:
        notes.append(
            (
                "variance",
                f"Tweedie variance function V(mu) = mu^{var_power:g} (fixed var_power); "
                "llf, AIC and BIC are not available (no closed-form density).",
            )
        )
    return notes


def _weight_notes(res: Any) -> list[tuple[str, str]]:
    """Frequency weights and exposure, when given."""
    notes = []
    freq = getattr(res.spec, "freq_weights", None)
    if freq is not None:
        notes.append(
            (
                "freq_weights",
                f"Frequency weights {freq!r}: each row stands for that many identical rows "
                "(statsmodels freq_weights); nobs is their sum and df_resid = nobs - rank. "
                "Residuals (and the residual plots) are per row, those of one copy (statsmodels, "
                "Stata); the deviance and Pearson chi2 sum them over every copy.",
            )
        )
    exposure = getattr(res.spec, "exposure", None)
    if exposure is not None:
        notes.append(
            (
                "exposure",
                f"Exposure {exposure!r}: log(exposure) is added to the offset (log link), and "
                "predictions for new data use the new rows' exposure.",
            )
        )
    return notes


def _response_notes(res: Any) -> list[tuple[str, str]]:
    # a Dask fit's rows stay on the workers: the response is described from a sample of them
    design = res.sample_results().design if getattr(res, "engine", None) == "dask" else res.design
    classes = design.classes
    name = design.response_name
    if res.family.is_multiclass:
        others = ", ".join(repr(str(c)) for c in classes[1:])
        return [
            (
                "response",
                f"Response {name}: reference class {str(classes[0])!r}. The coefficients of "
                f"class k (one of {others}) are log relative risks P(k) / P("
                f"{str(classes[0])!r}); exp(estimate) is the relative risk ratio.",
            )
        ]
    if res.family.proportion_response:
        if classes is not None:
            text = (
                f"Response {name}: modelled P({name} = {str(classes[1])!r}); "
                f"{str(classes[0])!r} is the reference (failure) class."
            )
        elif design.trials is not None and np.any(design.trials != 1):
            text = (
                f"Response {name}: counts of successes and failures; modelled the probability "
                "of a success (the first count)."
            )
        elif np.all((design.y == 0) | (design.y == 1)):
            text = f"Response {name}: 0/1; modelled P({name} = 1)."
        else:
            text = (
                f"Response {name}: proportions of successes, with the weights as numbers of "
                "trials; modelled the probability of a success."
            )
        return [("response", text)]
    return []
