"""Model comparison across a spec: information criteria and tests of nested pairs.

Models fitted to the same response on the same rows (with the same weights) form a data group,
whatever their family, link or offset: their AIC and BIC are comparable, so each group is
ranked (differences to the group's lowest AIC/BIC). A Poisson and a negative binomial fit of
the same design in a group also get the boundary likelihood-ratio test of ``pscl::odTest``
(:func:`glmspec.inference.anova.poisson_negbin_lrtest`).

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
from glmspec.inference.anova import (
    anova,
    check_nested,
    data_difference,
    lrtest,
    poisson_negbin_lrtest,
)
from glmspec.report.values import n_params, number


def build_comparison(named: list[tuple[str, Any]]) -> dict[str, Any]:
    """Comparison tables for ``(name, results)`` pairs; results may be None (failed fits).

    Parameters
    ----------
    named : list of (str, GLMResults or MultinomialResults or None)

    Returns
    -------
    dict
        ``models``: one row per fitted model (name, family, link, nobs, llf, df = number of
        parameters including an estimated dispersion (None without a log-likelihood), AIC, BIC,
        deviance, converged, ``group`` (a letter shared by models of the same data, None for
        a model alone), ``delta_aic``/``delta_bic`` (to the group's lowest) and
        ``best_aic``/``best_bic``); ``tests``: one row per nested pair; ``skipped``: pairs not
        compared, with the reason; ``overdispersion_tests``: Poisson (``restricted``) vs
        negative binomial (``general``) fits of the same model.
    """
    fitted = [(name, res) for name, res in named if res is not None]
    rows = [_model_row(name, res) for name, res in fitted]
    groups = _data_groups([res for _, res in fitted])
    _rank(rows, groups)
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
    return {
        "models": rows,
        "tests": tests,
        "skipped": skipped,
        "overdispersion_tests": _overdispersion_tests(fitted, groups),
    }


def _data_groups(results: list[Any]) -> list[int]:
    """Group index of each fit: fits share one when response, rows and weights are equal."""
    representatives: list[Any] = []
    groups = []
    for res in results:
        for index, first in enumerate(representatives):
            if data_difference(first, res, offset=False) is None:
                groups.append(index)
                break
        else:
            representatives.append(res)
            groups.append(len(representatives) - 1)
    return groups


def _rank(rows: list[dict[str, Any]], groups: list[int]) -> None:
    """Letters for groups of two or more models; AIC/BIC differences to each group's lowest
    among its converged fits (flagged ``best_*``)."""
    sizes = {g: groups.count(g) for g in groups}
    letters: dict[int, str] = {}
    for row, group in zip(rows, groups, strict=True):
        row["best_aic"] = row["best_bic"] = False
        row["delta_aic"] = row["delta_bic"] = None
        if sizes[group] < 2:
            row["group"] = None
            continue
        row["group"] = letters.setdefault(group, chr(ord("A") + len(letters) % 26))
    for group in letters:
        members = [r for r, g in zip(rows, groups, strict=True) if g == group and r["converged"]]
        for key in ("aic", "bic"):
            finite = [m for m in members if m[key] is not None and np.isfinite(m[key])]
            if len(finite) < 2:
                continue
            lowest = min(m[key] for m in finite)
            for m in finite:
                m[f"delta_{key}"] = m[key] - lowest
            min(finite, key=lambda m: m[key])[f"best_{key}"] = True


def _overdispersion_tests(fitted: list[tuple[str, Any]], groups: list[int]) -> list[dict]:
    """``pscl::odTest`` for each Poisson / negative binomial pair of the same model."""
    found = []
    for (name_a, a), group_a in zip(fitted, groups, strict=True):
        for (name_b, b), group_b in zip(fitted, groups, strict=True):
            if group_a != group_b or a is b or not (a.converged and b.converged):
                continue
            try:
                test = poisson_negbin_lrtest(a, b)
            except ModelComparisonError:
                continue
            found.append(
                {
                    "restricted": name_a,
                    "general": name_b,
                    "theta": number(b.theta),
                    "statistic": test.statistic,
                    "pvalue": test.pvalue,
                }
            )
    return found


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
    """None when ``small`` is nested in ``big`` and both converged, else the first reason:
    convergence, then the data (response, rows, weights, offset), then family and link, then
    nesting; the same reason whichever of the two comes first."""
    not_converged = [n for n, r in ((small_name, small), (big_name, big)) if not r.converged]
    if not_converged:
        return f"{' and '.join(not_converged)} did not converge."
    difference = data_difference(small, big)
    if difference is not None:
        return f"{difference}: no test compares models of different data."
    families = [f"{r.family.name}/{r.family.link.name}" for r in (small, big)]
    if families[0] != families[1]:
        return (
            f"different family or link ({families[0]} vs {families[1]}): not nested; compare "
            "them by AIC/BIC (same data group above)."
        )
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
