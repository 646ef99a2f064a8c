"""Printable model summaries, with the content of R's ``summary.glm``.

The summary is built once as data (:attr:`Summary.coefficients`, :attr:`Summary.info`,
:attr:`Summary.warnings`) and rendered to text by :meth:`Summary.as_text`; reports render the
same data with their own templates.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from glmspec.inference.dispersion import pearson_overdispersion
from glmspec.inference.information import flat_params
from glmspec.results.fit_setup import fit_setup
from glmspec.results.number_format import format_estimates, format_pvalues, format_statistics


def format_pvalue(p: float) -> str:
    """One p-value as R's ``format.pval(p, digits=3)``: ``<2e-16`` below machine epsilon.

    A column of p-values should go through
    :func:`glmspec.results.number_format.format_pvalues`, which gives them a common layout.
    """
    return format_pvalues([p])[0]


def format_number(x: float, digits: int = 6) -> str:
    """A number with ``digits`` significant digits, without trailing noise."""
    if isinstance(x, (int, np.integer)):
        return str(x)
    if x is None or np.isnan(x):
        return "NA"  # as R prints a missing value (e.g. the llf of a quasi family)
    if not np.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


class Summary:
    """Summary of a fit: model information, coefficient table and warnings."""

    def __init__(self, res, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.coefficients = _coefficient_table(res, alpha)
        self.info = _info(res)
        self.warnings = _warnings(res)

    def as_text(self) -> str:
        """Render as plain text, like R's ``print(summary(fit))``."""
        info = self.info
        lines = [
            f"Generalized linear model: {info['family_label']} family, {info['link']} link",
            f"Formula: {info['formula']}",
            f"Observations: {info['nobs']} (dropped for missing values: {info['n_dropped']})"
            f"   Df residuals: {format_number(info['df_resid'])}"
            f"   Df model: {format_number(info['df_model'])}",
            f"Dispersion: {format_number(info['scale'])}"
            f" ({'fixed' if info['scale_fixed'] else 'Pearson chi2 / df_resid'}"
            f"{_overdispersion_text(info['overdispersion'])})",
            _convergence_text(info),
        ]
        if info.get("theta") is not None:
            lines.append(_theta_line(info))
        setup = info["setup"]
        lines.append(f"Covariance: {setup['covariance']}")
        lines.append(
            "   ".join(f"{k.capitalize()}: {v}" for k, v in setup.items() if k != "covariance")
        )
        lines += [
            "",
            self._coefficient_text(),
            "",
        ]
        if info.get("null_deviance") is not None:
            lines.append(
                f"Null deviance:     {format_number(info['null_deviance'], 8)} on "
                f"{format_number(info['df_null'])} degrees of freedom"
            )
        lines += [
            f"Residual deviance: {format_number(info['deviance'], 8)} on "
            f"{format_number(info['df_resid'])} degrees of freedom",
            _llf_line(info),
        ]
        if info.get("pearson_chi2") is not None:
            lines.append(f"Pearson chi2: {format_number(info['pearson_chi2'], 8)}")
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_html(self) -> str:
        """Render as HTML (Jupyter): the text lines around the coefficient table as
        ``<pre>``, the coefficient table as an HTML table; everything escaped."""
        coefficients = self._coefficient_text()
        head, tail = self.as_text().split(coefficients, 1)
        table = self._coefficient_frame().to_html(classes="glmspec-coefficients")
        return (
            f'<div class="glmspec-summary"><pre>{html.escape(head.strip())}</pre>\n{table}\n'
            f"<pre>{html.escape(tail.strip())}</pre></div>"
        )

    def _repr_html_(self) -> str:
        return self.as_html()

    def _coefficient_text(self) -> str:
        return self._coefficient_frame().to_string()

    def _coefficient_frame(self) -> pd.DataFrame:
        table = self.coefficients.copy()
        stat = "t value" if self.info["use_t"] else "z value"
        separated = (
            set() if self.info["separation"] is None else set(self.info["separation"]["columns"])
        )
        index = [
            f"{name} (separated)" if str(name).split(": ")[-1] in separated else name
            for name in table.index
        ]
        shown = pd.DataFrame(index=index)
        estimate, std_error = format_estimates([table["estimate"], table["std_error"]])
        shown["Estimate"] = estimate
        shown["Std. Error"] = std_error
        shown[stat] = format_statistics(table["statistic"])
        shown[f"Pr(>|{stat[0]}|)"] = format_pvalues(table["p_value"])
        lo, hi = self.alpha / 2, 1 - self.alpha / 2
        lower, upper = format_estimates([table["lower"], table["upper"]])
        shown[f"{100 * lo:g} %"] = lower
        shown[f"{100 * hi:g} %"] = upper
        return shown

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()


def _theta_line(info: dict) -> str:
    """R's ``glm.nb`` line: theta, its SE, and statsmodels' alpha = 1/theta."""
    theta = format_number(info["theta"])
    alpha = format_number(1.0 / info["theta"])
    if info["theta_estimated"]:
        return (
            f"Theta: {theta} (Std. Err. {format_number(info['theta_se'])}; ML estimate, "
            f"glm.nb)   statsmodels alpha = 1/theta = {alpha}"
        )
    return f"Theta: {theta} (fixed)   statsmodels alpha = 1/theta = {alpha}"


def _df_null(res) -> float:
    """Residual df of the intercept-only model: one intercept per equation (K - 1 for a
    K-class multinomial, as statsmodels' MNLogit counts ``df_resid``), none without one."""
    equations = np.asarray(res.params).shape[1] if res.family.is_multiclass else 1
    return res.nobs - equations * int(res.design.has_intercept)


def _separation(res) -> dict | None:
    separation = getattr(res, "separation", None)
    if separation is None:
        return None
    return {"kind": separation.kind, "columns": [str(c) for c in separation.columns]}


def _convergence_text(info: dict) -> str:
    if not info["converged"]:
        return f"Converged: NO after {info['n_iter']} iterations"
    if info["separation"] is not None:
        return (
            f"Status: {info['separation']['kind']} separation (the convergence criterion was met "
            f"after {info['n_iter']} iterations, but the estimates marked (separated) diverge)"
        )
    return f"Converged: yes after {info['n_iter']} iterations"


def _overdispersion_text(found: dict | None) -> str:
    if found is None:
        return ""
    return (
        f"; Pearson chi2 / df = {format_number(found['ratio'], 4)}, "
        f"overdispersion test {p_clause(found['pvalue'])}"
    )


def p_clause(p: float) -> str:
    """``p = 0.0123`` or ``p < 2e-16``, for running text."""
    text = format_pvalue(p)
    return f"p {text[0]} {text[1:].strip()}" if text.startswith("<") else f"p = {text}"


def overdispersion(res) -> dict | None:
    """Pearson's test of the fixed dispersion of Poisson and binomial-count fits, or None.

    Applies to the Poisson and to the binomial with counts (a row with more than one trial, or
    a proportion strictly between 0 and 1); a 0/1 response carries no information about
    overdispersion. See :func:`glmspec.inference.dispersion.pearson_overdispersion`.
    """
    family = res.family
    # fixed dispersion with a quasi family that frees it: the Poisson and the binomial
    if not (family.fixed_scale and family.quasi_name) or family.is_multiclass:
        return None
    if family.proportion_response:
        y, trials = res.design.y, res.design.trials
        if not isinstance(y, np.ndarray):
            return None  # a lazy (Dask) response: not read again for this
        counts = trials is not None and np.any(np.asarray(trials) > 1)
        if not (counts or np.any((y > 0) & (y < 1))):
            return None
    return pearson_overdispersion(res.pearson_chi2, res.df_resid)


def _overdispersion_warning(res, found: dict) -> str:
    family = res.family
    if family.counts_response:
        alternatives = f'family="{family.quasi_name}" or family="negative_binomial"'
    else:
        alternatives = f'family="{family.quasi_name}" (or a beta-binomial or random-effects model)'

    return (
        f"overdispersion: Pearson chi2 / df = {format_number(found['ratio'], 4)} "
        f"(chi2 = {format_number(found['pearson_chi2'])} on {format_number(found['df_resid'])} "
        f"df, {p_clause(found['pvalue'])}, below {found['level']:g}); the {res.family.name} "
        f"standard errors and tests assume a dispersion of 1 and are too small. Consider "
        f"{alternatives}."
    )


def _llf_line(info: dict) -> str:
    """Log-likelihood, AIC and BIC; NA with the reason when the family has no likelihood."""
    if not info["has_loglik"]:
        return f"Log-likelihood: NA   AIC: NA   BIC: NA ({info['llf_convention']})"
    return (
        f"Log-likelihood: {format_number(info['llf'], 8)}   AIC: "
        f"{format_number(info['aic'], 8)}   BIC: {format_number(info['bic'], 8)}"
    )


def _coefficient_table(res, alpha: float) -> pd.DataFrame:
    ci = res.conf_int(alpha)
    long = flat_params
    table = pd.DataFrame(
        {
            "estimate": long(res.params),
            "std_error": long(res.bse),
            "statistic": long(res.tvalues),
            "p_value": long(res.pvalues),
        }
    )
    table["lower"] = ci[0].to_numpy()
    table["upper"] = ci[1].to_numpy()
    if isinstance(table.index, pd.MultiIndex):
        table.index = [f"{cls}: {name}" for cls, name in table.index]
    return table


def _info(res) -> dict:
    fixed = res.family.fixed_scale
    has_null = getattr(res, "null_deviance", None) is not None
    return {
        "formula": res.spec.formula,
        "family": res.family.name,
        "link": res.family.link.name,
        "nobs": res.nobs,
        "n_dropped": res.n_dropped,
        "df_resid": res.df_resid,
        "df_model": res.df_model,
        "df_null": _df_null(res),
        "scale": res.scale,
        "scale_fixed": fixed,
        "use_t": res.use_t,
        "converged": res.converged,
        "n_iter": res.n_iter,
        "llf": res.llf,
        "aic": res.aic,
        "bic": res.bic,
        "deviance": res.deviance,
        "null_deviance": res.null_deviance if has_null else None,
        "pearson_chi2": getattr(res, "pearson_chi2", None),
        "family_label": res.family.label,
        "has_loglik": res.family.has_loglik,
        "llf_convention": res.family.llf_convention,
        "theta": getattr(res, "theta", None),
        "theta_se": getattr(res, "theta_se", None),
        "theta_estimated": getattr(res, "theta_estimated", None),
        "setup": fit_setup(res),
        "overdispersion": overdispersion(res),
        "separation": _separation(res),
    }


def _warnings(res) -> list[str]:
    found = []
    if not res.converged:
        found.append(
            f"the solver did not converge ({res.record.message}); estimates are unreliable."
        )
    penalty = getattr(res.spec, "penalty", None)
    if penalty is not None:
        found.append(
            f"penalized fit ({penalty}, alpha={res.spec.alpha:g}, l1_ratio={res.spec.l1_ratio:g}): "
            "the estimates are shrunk, so standard errors, tests and intervals are not given."
        )
    if getattr(res.spec, "method", "ml") == "firth":
        found.append(
            "Firth bias-reduced fit: deviance, log-likelihood and AIC are the ordinary ones at "
            "the penalized estimates (penalized_llf holds the penalized log-likelihood)."
        )
    separation = getattr(res, "separation", None)
    if separation is not None:
        found.append(separation.describe())
    over = overdispersion(res)
    if over is not None and over["overdispersed"]:
        found.append(_overdispersion_warning(res, over))
    return found
