"""Report content as plain data, built once from a spec and its fitted models.

:func:`build_tables` returns nested dicts and lists of plain Python values (floats at full
precision, ``None`` where a value does not exist). The HTML and Markdown templates format
these values for display; ``results.json`` serialises them as they are, so every number shown
in a report can be read back exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from glmspec.report.comparison import build_comparison
from glmspec.report.inference_tables import inference_tables
from glmspec.report.notes import conventions
from glmspec.report.regression_table import report_section
from glmspec.report.values import ALPHA, LEVEL, n_params, number, plain
from glmspec.results.summary import Summary
from glmspec.spec import FittedModel, Spec


def build_tables(spec: Spec, fitted: list[FittedModel]) -> dict[str, Any]:
    """Build every table of the report as plain data.

    Parameters
    ----------
    spec : Spec
        The spec the models come from (title, check settings).
    fitted : list of FittedModel
        One outcome per model entry, in the spec's order; failed fits included.

    Returns
    -------
    dict
        ``title``, ``stem``, ``spec`` (settings), ``banner`` (counts of models, converged
        fits and checks), ``models`` (one dict per model, see :func:`model_tables`) and
        ``comparison`` (see :func:`glmspec.report.comparison.build_comparison`).
    """
    slugs = unique_slugs([fm.entry.name for fm in fitted])
    models = [model_tables(spec, fm, slug) for fm, slug in zip(fitted, slugs, strict=True)]
    named = [(m["name"], fm.results) for m, fm in zip(models, fitted, strict=True)]
    return {
        "title": spec.title,
        "stem": spec.stem,
        "spec": {
            "title": spec.title,
            "path": plain(spec.path),
            "data": plain(spec.data),
            "check_against": spec.check_against,
            "check_tol": spec.check_tol,
            "report_formats": list(spec.report_formats),
        },
        "banner": _banner(models),
        "models": models,
        "comparison": build_comparison(named),
        "regression_table": report_section(named),
    }


def unique_slugs(names: list[str]) -> list[str]:
    """File- and id-safe versions of ``names`` (letters, digits, ``-``, ``_``), made unique."""
    seen: set[str] = set()
    slugs = []
    for name in names:
        base = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name)) or "model"
        slug, k = base, 2
        while slug in seen:
            slug, k = f"{base}_{k}", k + 1
        seen.add(slug)
        slugs.append(slug)
    return slugs


def model_tables(spec: Spec, fm: FittedModel, slug: str) -> dict[str, Any]:
    """Tables of one model: header, coefficients, fit statistics, check, conventions, warnings.

    Parameters
    ----------
    spec : Spec
    fm : FittedModel
    slug : str
        Identifier used for HTML ids and plot file names.

    Returns
    -------
    dict
        Always ``name``, ``slug``, ``entry``, ``status``, ``error``, ``warnings`` and
        ``check``; when the fit produced results also ``info``, ``coefficients`` (list of row
        dicts), ``coef_columns`` (labels), ``fit_statistics`` (list of key/label/value rows)
        and ``conventions``, and ``inference`` (the optional tables of
        :func:`glmspec.report.inference_tables.inference_tables`).
    """
    res = fm.results
    table: dict[str, Any] = {
        "name": fm.entry.name,
        "slug": slug,
        "entry": {k: plain(v) for k, v in dataclasses.asdict(fm.entry).items()},
        "error": fm.error,
        "check": _check_table(spec, fm),
        "data_rows": fm.data_rows or None,
    }
    if res is None:
        table.update(
            status="failed", warnings=list(fm.warnings), info=None, coefficients=[], inference=None
        )
        return table
    summary = Summary(res, alpha=ALPHA)
    ratio = ratio_label(res)
    table.update(
        info=_info(res, fm, summary),
        coefficients=_coefficients(res, summary, ratio is not None),
        coef_columns={
            "statistic": "t" if res.use_t else "z",
            "ratio": ratio,
            "level": LEVEL,
            "multinomial": res.family.is_multiclass,
        },
        fit_statistics=_fit_statistics(res, summary.info["overdispersion"]),
        conventions=conventions(res),
        inference=inference_tables(spec, res),
    )
    table["warnings"] = _warnings(fm, summary, table["check"])
    table["status"] = _status(res, table["check"])
    return table


def ratio_label(res: Any) -> str | None:
    """What ``exp(estimate)`` means for this model, or None when it has no ratio meaning.

    Logit: odds ratio; log: rate ratio (Poisson, negative binomial), risk ratio (binomial),
    ratio of means (Gaussian, Gamma, inverse Gaussian, Tweedie); multinomial: relative risk
    ratio against the reference class.
    """
    return res.family.ratio_label


def _status(res: Any, check: dict[str, Any]) -> str:
    """``not converged``, ``separation`` (the criterion was met but estimates diverge),
    ``check failed`` or ``ok``."""
    if not res.converged:
        return "not converged"
    if getattr(res, "separation", None) is not None:
        return "separation"
    if check["status"] == "failed":
        return "check failed"
    return "ok"


def _info(res: Any, fm: FittedModel, summary: Summary) -> dict[str, Any]:
    info = summary.info
    design = res.design
    return {
        "formula": info["formula"],
        "family": info.get("family_label", info["family"]),
        "family_name": info["family"],
        "link": info["link"],
        "response": design.response_name,
        "weights": res.spec.weights,
        "offset": res.spec.offset,
        "freq_weights": getattr(res.spec, "freq_weights", None),
        "exposure": getattr(res.spec, "exposure", None),
        "setup": info["setup"],
        "theta": number(info.get("theta")),
        "theta_se": number(info.get("theta_se")),
        "theta_estimated": info.get("theta_estimated"),
        "var_power": getattr(res.family, "var_power", None),
        "has_loglik": bool(info.get("has_loglik", True)),
        "missing": res.spec.missing,
        "data_rows": fm.data_rows or None,
        "nobs": number(info["nobs"]),
        "n_dropped": int(info["n_dropped"]),
        "df_model": number(info["df_model"]),
        "df_resid": number(info["df_resid"]),
        "n_params": n_params(res),
        "converged": bool(info["converged"]),
        "separation": info["separation"],
        "n_iter": int(info["n_iter"]),
        "max_iter": res.spec.max_iter,
        "tol": res.spec.tol,
        "solver_message": getattr(res.record, "message", None),
        "classes": None if design.classes is None else [str(c) for c in design.classes],
        "factor_levels": {k: [str(v) for v in lv] for k, lv in design.factor_levels.items()},
    }


def _coefficients(res: Any, summary: Summary, with_ratio: bool) -> list[dict[str, Any]]:
    coef = summary.coefficients
    if res.family.is_multiclass:
        keys = list(res.params.T.stack().index)  # (class, term), the order of the summary
    else:
        keys = [(None, term) for term in res.params.index]
    separation = getattr(res, "separation", None)
    separated = set() if separation is None else set(separation.columns)
    rows = []
    for (cls, term), (_, row) in zip(keys, coef.iterrows(), strict=True):
        item = {
            "class": None if cls is None else str(cls),
            "term": str(term),
            "separated": str(term) in separated,
            "estimate": number(row["estimate"]),
            "bse": number(row["std_error"]),
            "statistic": number(row["statistic"]),
            "pvalue": number(row["p_value"]),
            "lower": number(row["lower"]),
            "upper": number(row["upper"]),
        }
        if with_ratio:
            with np.errstate(over="ignore"):
                item["exp_estimate"] = number(np.exp(row["estimate"]))
                item["exp_lower"] = number(np.exp(row["lower"]))
                item["exp_upper"] = number(np.exp(row["upper"]))
        rows.append(item)
    return rows


def _fit_statistics(res: Any, over: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Fit statistics; without a likelihood (quasi, Tweedie) llf, AIC, BIC are None (NA).

    Poisson and binomial-count fits also show Pearson chi2 / df and the p-value of Pearson's
    overdispersion test (``over``, :func:`glmspec.results.summary.overdispersion`).
    """
    rows = [
        ("llf", "Log-likelihood", res.llf),
        ("llnull", "Log-likelihood, intercept-only model", res.llnull),
        ("deviance", "Residual deviance", res.deviance),
        ("null_deviance", "Null deviance", res.null_deviance),
        ("df_resid", "Residual degrees of freedom", res.df_resid),
        ("aic", "AIC", res.aic),
        ("bic", "BIC", res.bic),
        ("scale", "Dispersion", res.scale),
    ]
    if over is not None:
        rows += [
            ("pearson_ratio", "Pearson chi-square / df (1 under the model)", over["ratio"]),
            (
                "overdispersion_pvalue",
                f"Overdispersion test p-value (Pearson chi-square on df; flagged below "
                f"{over['level']:g})",
                over["pvalue"],
            ),
        ]
    if not res.family.is_multiclass:
        rows.append(("pearson_chi2", "Pearson chi-square", res.pearson_chi2))
    rows.append(("pseudo_rsquared_mcf", "McFadden pseudo R-squared", res.pseudo_rsquared("mcf")))
    if getattr(res, "theta", None) is not None:
        how = "estimated by ML, glm.nb" if res.theta_estimated else "fixed"
        rows += [
            ("theta", f"Negative binomial theta ({how})", res.theta),
            ("theta_se", "Std. error of theta (observed information)", res.theta_se),
            ("alpha", "statsmodels alpha = 1/theta", res.alpha),
        ]
    if not res.family.has_loglik:
        missing = {"llf", "llnull", "aic", "bic", "pseudo_rsquared_mcf"}
        rows = [(k, label, None if k in missing else v) for k, label, v in rows]
    return [{"key": k, "label": label, "value": number(v)} for k, label, v in rows]


def _check_table(spec: Spec, fm: FittedModel) -> dict[str, Any]:
    """The statsmodels cross-check: status, tolerance and one row per quantity."""
    base = {"against": spec.check_against, "tolerance": spec.check_tol, "error": None}
    if fm.check is not None:
        rows = [
            {
                "quantity": str(r["quantity"]),
                "convention": str(r["convention"]),
                "glmspec": number(r["glmspec"]),
                "statsmodels": number(r["statsmodels"]),
                "abs_diff": number(r["abs_diff"]),
                "rel_diff": number(r["rel_diff"]),
                "passed": bool(r["passed"]),
            }
            for _, r in fm.check.iterrows()
        ]
        passed = bool(fm.check.attrs.get("passed", all(r["passed"] for r in rows)))
        tol = fm.check.attrs.get("tol", spec.check_tol)
        n_failed = sum(not r["passed"] for r in rows)
        status = "passed" if passed else "failed"
        notes = [str(n) for n in fm.check.attrs.get("notes", [])]
        return base | {
            "status": status,
            "tolerance": tol,
            "rows": rows,
            "n_failed": n_failed,
            "notes": notes,
            "max_rel_diff": float(fm.check["rel_diff"].max()),
        }
    if fm.check_error is not None:
        return base | {
            "status": "error",
            "error": fm.check_error,
            "rows": [],
            "n_failed": 0,
            "notes": [],
        }
    status = "disabled" if spec.check_against is None else "not run"
    return base | {"status": status, "rows": [], "n_failed": 0, "notes": []}


def _warnings(fm: FittedModel, summary: Summary, check: dict[str, Any]) -> list[str]:
    """Warnings captured during the fit, plus non-convergence, separation and failed checks."""
    found = list(dict.fromkeys(fm.warnings))
    res = fm.results
    for message in summary.warnings:
        covered = message in found
        if "converge" in message and any("converge" in w for w in found):
            covered = True
        separation = getattr(res, "separation", None)
        if separation is not None and message == separation.describe():
            covered = covered or any("separation" in w for w in found)
        if not covered:
            found.append(message)
    if check["status"] == "failed":
        failed = [r["quantity"] for r in check["rows"] if not r["passed"]]
        shown = ", ".join(failed[:8]) + (", ..." if len(failed) > 8 else "")
        found.append(
            f"check against {check['against']} failed for {len(failed)} of "
            f"{len(check['rows'])} quantities (relative tolerance {check['tolerance']:g}): {shown}."
        )
    if check["status"] == "error":
        found.append(f"check against {check['against']} could not run: {check['error']}")
    return found


def _banner(models: list[dict[str, Any]]) -> dict[str, Any]:
    fitted = [m for m in models if m["info"] is not None]
    checks = [m["check"]["status"] for m in models]
    return {
        "n_models": len(models),
        "n_fitted": len(fitted),
        "n_failed": len(models) - len(fitted),
        "n_converged": sum(m["info"]["converged"] for m in fitted),
        "checks_passed": checks.count("passed"),
        "checks_failed": checks.count("failed"),
        "checks_not_run": len(checks) - checks.count("passed") - checks.count("failed"),
        "n_with_warnings": sum(bool(m["warnings"]) for m in models),
        "n_flagged": sum(bool(m["warnings"] or m["error"]) for m in models),
        "ok": all(m["status"] == "ok" for m in models),
    }
