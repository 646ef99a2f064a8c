"""The public entry point :func:`fit`: formula and data in, verified-ready results out."""

from __future__ import annotations

from typing import Any

import patsy

from glmspec.design.build import build_design
from glmspec.families import Family
from glmspec.families.links import Link
from glmspec.fitting import fit_design, fit_multinomial_design
from glmspec.inference.covariance import check_cov_options
from glmspec.options import check_fit_options


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
    singular: str = "error",
    method: str = "ml",
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
    singular : {"error", "drop"}
        A rank-deficient design raises :class:`~glmspec.errors.SingularDesignError` naming the
        aliased columns (default), or is fitted as R's ``glm`` (``singular.ok = TRUE``): each
        column that is a combination of earlier ones is left out, NaN in params/bse and named
        in ``res.aliased`` (:mod:`glmspec.design.aliasing`).
    method : {"ml", "firth"}
        Maximum likelihood, or Firth's bias-reduced fit for binomial-logit and Poisson-log
        (R's ``brglm2`` ``type = "AS_mean"``, ``logistf``; :mod:`glmspec.solvers.firth`).
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
    dask = is_dask_collection(data)
    spec, chosen = check_fit_options(
        formula,
        dask=dask,
        family=family,
        link=link,
        weights=weights,
        offset=offset,
        missing=missing,
        max_iter=max_iter,
        tol=tol,
        freq_weights=freq_weights,
        exposure=exposure,
        theta=theta,
        var_power=var_power,
        cov_type=cov_type,
        groups=groups,
        penalty=penalty,
        alpha=alpha,
        l1_ratio=l1_ratio,
        singular=singular,
        method=method,
        formula_mode=formula_mode,
    )
    family_obj = None if chosen.is_multiclass else chosen  # the multinomial has its own solver
    if dask:
        from glmspec.distributed.fit import fit_dask

        return fit_dask(formula, data, family_obj, spec)
    design = build_design(
        formula,
        data,
        chosen,
        weights=weights,
        offset=offset,
        missing=missing,
        eval_env=patsy.EvalEnvironment.capture(1),
        freq_weights=freq_weights,
        exposure=exposure,
        formula_mode=formula_mode,
    )
    _, labels = check_cov_options(spec.cov_type, groups, design, data, family_obj is None)
    if family_obj is None:
        res = fit_multinomial_design(design, spec)
    else:
        res = fit_design(design, family_obj, spec)
    res.cov_type, res.groups = spec.cov_type, labels
    return res


def is_dask_collection(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "npartitions")
