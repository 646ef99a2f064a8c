"""The public entry point :func:`fit`: formula and data in, verified-ready results out."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import patsy

from glmspec.design.build import build_design
from glmspec.design.formula_check import check_mode
from glmspec.errors import (
    DataError,
    DomainWarning,
    ResponseError,
    SeparationWarning,
    SpecificationError,
    suggest,
)
from glmspec.families import (
    BINOMIAL_RESPONSE,
    EXPOSURE_FAMILIES,
    Family,
    NegativeBinomial,
    canonical_family_name,
    check_family_params,
    get_family,
)
from glmspec.families.links import Link, get_link
from glmspec.inference.covariance import check_cov_options, normalize_cov_type
from glmspec.inference.separation import find_separation, find_zero_counts
from glmspec.results.glm import GLMResults, ModelSpec
from glmspec.results.multinomial import MultinomialResults
from glmspec.results.negbin import NegBinResults
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.multinomial import fit_multinomial
from glmspec.solvers.negbin import ThetaFit, fit_negbin
from glmspec.solvers.penalized import Penalty, fit_penalized

# R's glm.fit warns when fitted probabilities are within 10 * DBL_EPSILON of 0 or 1.
_BOUNDARY = 10 * np.finfo(float).eps


def fit(
    formula: str,
    data: Any,
    family: str | Family = "gaussian",
    link: str | Link | None = None,
    weights: Any = None,
    offset: Any = None,
    *,
    missing: str = "raise",
    max_iter: int = 100,
    tol: float = 1e-8,
    freq_weights: Any = None,
    exposure: Any = None,
    theta: float | None = None,
    var_power: float | None = None,
    cov_type: str = "nonrobust",
    groups: Any = None,
    penalty: str | None = None,
    alpha: float = 0.0,
    l1_ratio: float | None = None,
    formula_mode: str = "python",
):
    """Fit a generalized linear model by maximum likelihood with glmspec's own solver.

    Parameters
    ----------
    formula : str
        R-style formula, e.g. ``"visitors ~ hour + C(weekday)"``. For binomial counts write
        ``"successes + failures ~ x"`` or ``"cbind(successes, failures) ~ x"``.
    data : pandas.DataFrame or mapping of columns
        Not modified.
    family : str or Family
        ``"gaussian"``, ``"binomial"`` (alias ``"bernoulli"``), ``"poisson"``, ``"gamma"``,
        ``"inverse_gaussian"``, ``"negative_binomial"``, ``"tweedie"``, ``"quasipoisson"``,
        ``"quasibinomial"`` or ``"multinomial"``.
    link : str or Link, optional
        Link name (or ``"power(p)"`` where the family allows it); None means the family's
        canonical (default) link.
    weights : str or array-like, optional
        Prior weights with R's ``glm()`` meaning (statsmodels' ``var_weights``; column name
        or array). For binomial proportions, the number of trials.
    offset : str or array-like, optional
        Added to the linear predictor (column name or array).
    missing : {"raise", "drop"}
        What to do with NaN/infinite values in used columns.
    max_iter : int
        Maximum number of solver iterations.
    tol : float
        Convergence tolerance (relative deviance change; the Newton decrement must be below
        ``tol**2``).
    freq_weights : str or array-like, optional
        Frequency weights (statsmodels' ``freq_weights``): a row stands for that many
        identical rows. Same estimates as prior weights, but ``nobs = sum(freq_weights)``,
        ``df_resid = nobs - rank`` and the llf is that of the duplicated rows.
    exposure : str or array-like, optional
        Positive exposure for log-link count models (poisson, quasipoisson,
        negative_binomial): ``log(exposure)`` is added to the offset; ``predict`` reads the
        same column from new data.
    theta : float, optional
        Negative binomial shape (``Var = mu + mu^2/theta``); None (default) estimates it by
        maximum likelihood as ``MASS::glm.nb``.
    var_power : float, optional
        Tweedie variance power in (1, 2); required for ``family="tweedie"``.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
        Covariance behind ``params``/``bse``/``pvalues``/``conf_int``, Wald tests and
        prediction intervals (see :mod:`glmspec.inference.covariance`). Robust covariances use
        normal (z) tests, as statsmodels' GLM. Multinomial: nonrobust, HC0, HC1 or cluster.
    groups : str or array-like, optional
        Cluster labels for ``cov_type="cluster"``: a column of ``data`` or one label per row.
    penalty : {None, "l2", "elastic_net"}
        Penalized fit of glum's and scikit-learn's objective ``deviance / (2 sum(w)) + alpha
        (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|^2)`` over every coefficient but the intercept
        (:mod:`glmspec.solvers.penalized`). Penalized fits report no standard errors, tests or
        statsmodels check.
    alpha : float
        Penalty strength (>= 0).
    l1_ratio : float, optional
        Elastic-net mixing in [0, 1]; required for ``"elastic_net"``, 0 for ``"l2"``.
    formula_mode : {"python", "safe"}
        ``"python"`` (default): patsy's semantics, formula terms are Python evaluated in the
        caller's namespace. ``"safe"``: only columns, numbers, arithmetic and an allowlist of
        functions (:mod:`glmspec.design.formula_check`), evaluated without Python's builtins -- for
        formulas from a source you do not control; spec files and the CLI use it.

    Returns
    -------
    GLMResults or MultinomialResults
        :class:`~glmspec.solvers.negbin.NegBinResults` (with ``theta`` and ``theta_se``) for the
        negative binomial.

    Raises
    ------
    glmspec.errors.GLMSpecError
        Unknown family/link, bad data, rank-deficient design, and the other input errors.

    Warns
    -----
    ConvergenceWarning, SeparationWarning, DomainWarning
    """
    family_name = family.name if isinstance(family, Family) else canonical_family_name(family)
    cov_type = normalize_cov_type(cov_type)
    _check_options(max_iter, tol)
    if family_name == "multinomial":
        check_multinomial_link(link)
        if freq_weights is not None or exposure is not None:
            raise SpecificationError(
                "freq_weights and exposure are not available for the multinomial family."
            )
        check_family_params(family_name, theta=theta, var_power=var_power)
        family_obj = None
    else:
        family_obj = get_family(family, link, theta=theta, var_power=var_power)
        _check_exposure_family(family_obj, exposure)
    dask = is_dask_collection(data)
    if dask:
        from glmspec.distributed.fit import check_dask_options

        columns = dict(weights=weights, offset=offset, freq_weights=freq_weights)
        check_dask_options(
            family_obj,
            cov_type=cov_type,
            groups=groups,
            penalty=penalty,
            columns=columns | {"exposure": exposure},
        )
        labels = None
    else:
        design = build_design(
            formula,
            data,
            family_name,
            weights=weights,
            offset=offset,
            missing=missing,
            eval_env=patsy.EvalEnvironment.capture(1),
            freq_weights=freq_weights,
            exposure=exposure,
            formula_mode=formula_mode,
        )
        cov_type, labels = check_cov_options(cov_type, groups, design, data, family_obj is None)
    spec = ModelSpec(
        formula=formula,
        family=family_name,
        link="softmax" if family_obj is None else family_obj.link.name,
        weights=_describe(weights),
        offset=_describe(offset),
        missing=missing,
        max_iter=max_iter,
        tol=tol,
        freq_weights=_describe(freq_weights),
        exposure=_describe(exposure),
        theta=theta,
        var_power=var_power,
        formula_mode=check_mode(formula_mode),
        **_penalty_options(penalty, alpha, l1_ratio, family_obj is None, cov_type),
    )
    if dask:
        from glmspec.distributed.fit import fit_dask

        return fit_dask(formula, data, family_obj, spec)
    if family_obj is None:
        res = fit_multinomial_design(design, spec)
    else:
        res = fit_design(design, family_obj, spec)
    res.cov_type, res.groups = cov_type, labels
    return res


def is_dask_collection(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "npartitions")


def fit_design(design, family: Family, spec: ModelSpec):
    """Fit a built design with a family: the solver (or glm.nb's alternation) and results.

    Shared by :func:`fit` and any other front end that builds a
    :class:`~glmspec.design.build.Design` itself.

    Parameters
    ----------
    design : Design
    family : Family
        With its link (and theta / var_power).
    spec : ModelSpec
        ``max_iter`` and ``tol`` are taken from it.

    Returns
    -------
    GLMResults or NegBinResults
    """
    family.check_response(design.y, design.prior_weights, design.response_name)
    solve = dict(
        prior_weights=design.total_weights,
        offset=design.offset,
        max_iter=spec.max_iter,
        tol=spec.tol,
        column_names=design.column_names,
    )
    if spec.penalty is not None:
        if isinstance(family, NegativeBinomial) and family.theta is None:
            raise SpecificationError("a penalized negative binomial fit needs a fixed theta=.")
        penalty = Penalty.except_intercept(spec.alpha, spec.l1_ratio, design.column_names)
        solve.pop("column_names")
        record = fit_penalized(design.y, design.X, family, penalty, **solve)
        return GLMResults(spec, design, family, record)
    if isinstance(family, NegativeBinomial):
        if family.theta is None:
            family, record, theta_fit = fit_negbin(design.y, design.X, family, **solve)
        else:
            record = fit_irls(design.y, design.X, family, **solve)
            theta_fit = ThetaFit(family.theta, float("nan"), False)
        return NegBinResults(spec, design, family, record, theta_fit)
    record = fit_irls(design.y, design.X, family, **solve)
    if family.name in BINOMIAL_RESPONSE:
        separation = _check_separation(design, record)
    elif family.link.name == "log" and family.name in ("poisson", "quasipoisson"):
        separation = _check_zero_counts(design, record)
    else:
        separation = None
    return GLMResults(spec, design, family, record, separation)


def _check_exposure_family(family: Family, exposure: Any) -> None:
    """``exposure=`` needs a log-link count family (it multiplies the mean)."""
    if exposure is None:
        return
    if family.name not in EXPOSURE_FAMILIES or family.link.name != "log":
        raise SpecificationError(
            f"exposure= needs a log-link count model ({', '.join(EXPOSURE_FAMILIES)} with "
            f"link 'log'); this is {family.name} with link {family.link.name!r}. Use offset= "
            "for other models."
        )


def fit_multinomial_design(design, spec: ModelSpec) -> MultinomialResults:
    """Fit a built multinomial design and check it for separation.

    The solver's own signal of separation (a fitted probability numerically 1) is replaced by
    the linear program of :mod:`glmspec.inference.separation`, run for each class against the others
    whenever a fitted probability reaches 0 or 1 or the fit did not converge; it names the
    class and the columns, and the result is kept as ``res.separation``.
    """
    _check_class_weights(design)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = fit_multinomial(
            design.y,
            len(design.classes),
            design.X,
            prior_weights=design.prior_weights,
            offset=design.offset,
            max_iter=spec.max_iter,
            tol=spec.tol,
            column_names=design.column_names,
        )
    heuristic = [w for w in caught if issubclass(w.category, SeparationWarning)]
    separation = _multinomial_separation(design, record)
    for w in caught:
        if w not in heuristic or separation is None:
            warnings.warn(w.message, w.category, stacklevel=3)
    return MultinomialResults(spec, design, record, separation)


def _multinomial_separation(design, record):
    """Separation of some class from the others, found by the LP; warns naming it."""
    used = design.prior_weights > 0
    suspicious = np.any(record.probs[used] < _BOUNDARY) or not record.converged
    if not suspicious:
        return None
    X = np.asarray(design.X)
    for k, label in enumerate(design.classes):
        found = find_separation(
            X, (design.y == k).astype(float), design.prior_weights, design.column_names
        )
        if found is not None:
            found = replace(found, subject=f"class {label!r} against the others")
            warnings.warn(found.describe(), SeparationWarning, stacklevel=4)
            return found
    return None


def _check_class_weights(design) -> None:
    """Every class of a multinomial response needs rows with positive weight."""
    totals = np.bincount(design.y, weights=design.prior_weights, minlength=len(design.classes))
    empty = [design.classes[k] for k in np.flatnonzero(totals <= 0)]
    if empty:
        raise ResponseError(
            f"class(es) {empty} of the response {design.response_name!r} have no rows with "
            "positive weight; drop them or give those rows weight."
        )


PENALTIES = ("l2", "elastic_net")


def _penalty_options(penalty, alpha, l1_ratio, multinomial: bool, cov_type: str) -> dict:
    """Validated ``penalty``/``alpha``/``l1_ratio`` for :class:`ModelSpec`."""
    if penalty is None:
        if alpha or l1_ratio is not None:
            raise SpecificationError("alpha and l1_ratio need penalty='l2' or 'elastic_net'.")
        return {}
    if penalty not in PENALTIES:
        raise SpecificationError(
            f"unknown penalty {penalty!r}; known: {', '.join(PENALTIES)}."
            f"{suggest(str(penalty), PENALTIES)}"
        )
    if multinomial:
        raise SpecificationError("penalties are not available for the multinomial family.")
    if cov_type != "nonrobust":
        raise SpecificationError("penalized fits have no standard errors: drop cov_type.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise SpecificationError(f"alpha must be a number >= 0, got {alpha!r}.")
    if penalty == "l2":
        if l1_ratio not in (None, 0, 0.0):
            raise SpecificationError("penalty='l2' has no l1_ratio; use 'elastic_net'.")
        l1_ratio = 0.0
    elif l1_ratio is None or not 0 <= l1_ratio <= 1:
        raise SpecificationError(f"elastic_net needs l1_ratio in [0, 1], got {l1_ratio!r}.")
    return {"penalty": penalty, "alpha": float(alpha), "l1_ratio": float(l1_ratio)}


def check_multinomial_link(link: Any) -> None:
    """The multinomial family's only link is the softmax (``"softmax"`` or ``"logit"``)."""
    if link is None or (isinstance(link, str) and link.strip().lower() == "softmax"):
        return
    if get_link(link).name != "logit":
        raise SpecificationError(
            f"the multinomial family uses the softmax link only (link='softmax' or 'logit'), "
            f"not {link!r}."
        )


def _describe(option: Any) -> str | None:
    """A column name as given; "array" for arrays; None when absent."""
    if option is None or isinstance(option, str):
        return option
    return "array"


def _check_options(max_iter: int, tol: float) -> None:
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise DataError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise DataError(f"tol must be a number in (0, 1), got {tol!r}.")


def _check_zero_counts(design, record):
    """Warn and return the direction along which zero counts make log-link estimates diverge
    (e.g. a factor level whose counts are all zero), when some zero count's fitted mean is
    numerically 0 or the fit did not converge (the symptoms; the LP decides)."""
    used = (design.prior_weights > 0) & (design.y == 0)
    if record.converged and not np.any(record.mu[used] < _BOUNDARY):
        return None
    X = np.asarray(design.X)
    found = find_zero_counts(X, design.y, design.prior_weights, design.column_names)
    if found is not None:
        warnings.warn(found.describe(), SeparationWarning, stacklevel=3)
    return found


def _check_separation(design, record):
    """Warn and return the separation when fitted probabilities reach 0 or 1 (R's check)."""
    used = design.prior_weights > 0
    mu = record.mu[used]
    at_boundary = np.any((mu < _BOUNDARY) | (mu > 1 - _BOUNDARY))
    if not at_boundary and record.converged:
        return None
    X = np.asarray(design.X)
    found = find_separation(X, design.y, design.prior_weights, design.column_names)
    if found is not None:
        warnings.warn(found.describe(), SeparationWarning, stacklevel=3)
    elif at_boundary:
        warnings.warn(
            "fitted probabilities numerically 0 or 1 occurred (no separation was found).",
            DomainWarning,
            stacklevel=3,
        )
    return found
