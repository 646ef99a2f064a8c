"""Model comparison across a spec: information criteria and tests of nested pairs.

Every pair of fitted, converged models is ordered by parameter count and tried with
:func:`glmspec.inference.anova.check_nested`; for nested pairs the analysis of deviance
(:func:`glmspec.inference.anova.anova`, R's ``anova(small, big, test="Chisq")``, plus the F test
when the dispersion is estimated) and the likelihood-ratio test
(:func:`glmspec.inference.anova.lrtest`) are reported. Pairs that cannot be compared are listed with
the reason.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from glmspec.errors import ModelComparisonError
from glmspec.inference.anova import anova, check_nested, lrtest
from glmspec.report._data import n_params, number


def build_comparison(named: list[tuple[str, Any]]) -> dict[str, Any]:
    """Comparison tables for ``(name, results)`` pairs; results may be None (failed fits).

    Parameters
    ----------
    named : list of (str, GLMResults or MultinomialResults or None)

    Returns
    -------
    dict
        ``models``: one row per fitted model (name, family, link, nobs, llf, df = number of
        parameters including an estimated dispersion, AIC, BIC, deviance, converged, and
        ``best_aic``/``best_bic`` flags among models fitted to the same family and data
        size); ``tests``: one row per nested pair; ``skipped``: pairs not compared, with the
        reason.
    """
    fitted = [(name, res) for name, res in named if res is not None]
    rows = [_model_row(name, res) for name, res in fitted]
    _mark_best(rows)
    tests, skipped = [], []
    for (name_a, a), (name_b, b) in combinations(fitted, 2):
        (small_name, small), (big_name, big) = sorted(
            [(name_a, a), (name_b, b)], key=lambda item: np.size(np.asarray(item[1].params))
        )
        reason = _why_not_comparable(small_name, small, big_name, big)
        if reason is None:
            tests.append(_nested_test(small_name, small, big_name, big))
        else:
            skipped.append({"small": small_name, "big": big_name, "reason": reason})
    return {"models": rows, "tests": tests, "skipped": skipped}


def _model_row(name: str, res: Any) -> dict[str, Any]:
    return {
        "name": name,
        "formula": res.spec.formula,
        "family": res.family.name,
        "link": res.family.link.name,
        "nobs": int(res.nobs),
        "llf": number(res.llf),
        # R's logLik df; NA with the log-likelihood for families without one (quasi, Tweedie)
        "df": n_params(res) if res.family.has_loglik else None,
        "aic": number(res.aic),
        "bic": number(res.bic),
        "deviance": number(res.deviance),
        "converged": bool(res.converged),
    }


def _mark_best(rows: list[dict[str, Any]]) -> None:
    """Flag the lowest AIC and BIC within each group of the same family, link and nobs."""
    for row in rows:
        row["best_aic"] = row["best_bic"] = False
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        if row["converged"]:
            groups.setdefault((row["family"], row["link"], row["nobs"]), []).append(row)
    for members in groups.values():
        if len(members) < 2:
            continue
        for key in ("aic", "bic"):
            finite = [m for m in members if np.isfinite(m[key])]
            if finite:
                min(finite, key=lambda m: m[key])[f"best_{key}"] = True


_ANOVA_KEYS = (
    "resid_df_small",
    "resid_df_big",
    "resid_dev_small",
    "resid_dev_big",
    "df",
    "deviance",
    "dispersion",
    "statistic",
    "pvalue",
)
_LR_KEYS = ("lr_statistic", "lr_df", "lr_pvalue")


def _why_not_comparable(small_name: str, small: Any, big_name: str, big: Any) -> str | None:
    """None when ``small`` is nested in ``big`` and both converged, else the reason."""
    not_converged = [n for n, r in ((small_name, small), (big_name, big)) if not r.converged]
    if not_converged:
        return f"{' and '.join(not_converged)} did not converge."
    if np.size(np.asarray(small.params)) == np.size(np.asarray(big.params)):
        return "same number of coefficients; no test (0 degrees of freedom)."
    try:
        check_nested(small, big, (small_name, big_name))
    except ModelComparisonError as exc:
        return str(exc)
    return None


def _nested_test(small_name: str, small: Any, big_name: str, big: Any) -> dict[str, Any]:
    """R's ``anova(small, big, test="Chisq")`` and the likelihood-ratio test of one pair.

    Either part is left empty (None) where it does not exist: no deviance test between
    negative binomial models with different theta, no likelihood-ratio test for families
    without a log-likelihood.
    """
    row: dict[str, Any] = {"small": small_name, "big": big_name, "family": big.family.name}
    row.update(dict.fromkeys(_ANOVA_KEYS + _LR_KEYS + ("f_statistic", "f_pvalue")))
    try:
        chisq = anova(small, big, test="Chisq")
    except ModelComparisonError:
        chisq = None
    if chisq is not None:
        second = chisq.iloc[1]
        dispersion = float(chisq.attrs["dispersion"])
        row.update(
            {
                "resid_df_small": number(chisq.iloc[0]["Resid. Df"]),
                "resid_df_big": number(second["Resid. Df"]),
                "resid_dev_small": number(chisq.iloc[0]["Resid. Dev"]),
                "resid_dev_big": number(second["Resid. Dev"]),
                "df": number(second["Df"]),
                "deviance": number(second["Deviance"]),
                "dispersion": dispersion,
                "statistic": number(second["Deviance"] / dispersion),
                "pvalue": number(second["Pr(>Chi)"]),
            }
        )
    try:
        lr = lrtest(small, big)
    except ModelComparisonError:
        lr = None
    if lr is not None:
        row.update(
            {
                "lr_statistic": number(lr.statistic),
                "lr_df": int(lr.df),
                "lr_pvalue": number(lr.pvalue),
            }
        )
    if chisq is None:
        return row
    if not big.family.fixed_scale:
        f_test = anova(small, big, test="F").iloc[1]
        row["f_statistic"] = number(f_test["F"])
        row["f_pvalue"] = number(f_test["Pr(>F)"])
    return row
