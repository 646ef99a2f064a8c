"""What each family owns (issue 14): its support as an interval, how it reads the response,
its Anscombe residuals, its statsmodels counterpart and its ratio label, and the multinomial
family with its softmax link.

References: statsmodels' families (``deviance``, ``resid_anscombe``, links) evaluated on the
same numbers; R's ``binomial()$initialize`` for the response forms; the ratio labels are the
textbook meanings of ``exp(beta)`` (Agresti, *Categorical Data Analysis*, 3rd ed., 4.2 and
8.1; McCullagh and Nelder, 2nd ed., 6.2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import glmspec
from glmspec.errors import ResponseError, SpecificationError
from glmspec.families import (
    FAMILIES,
    Binomial,
    Interval,
    Multinomial,
    Softmax,
    family_class,
    get_family,
)
from glmspec.families.links import Power

RNG = np.random.default_rng(20261204)
N = 40

# (family, link, draw of a response inside the support, draw of means)
CASES = [
    ("gaussian", "identity", lambda: RNG.normal(size=N), lambda: RNG.normal(size=N)),
    ("gaussian", "log", lambda: RNG.normal(size=N), lambda: RNG.uniform(0.5, 3, N)),
    ("poisson", "log", lambda: RNG.poisson(3.0, N).astype(float), lambda: RNG.uniform(1, 5, N)),
    ("poisson", "sqrt", lambda: RNG.poisson(3.0, N).astype(float), lambda: RNG.uniform(1, 5, N)),
    ("quasipoisson", "log", lambda: RNG.poisson(3, N).astype(float), lambda: RNG.uniform(1, 5, N)),
    ("binomial", "logit", lambda: RNG.integers(0, 6, N) / 5.0, lambda: RNG.uniform(0.1, 0.9, N)),
    ("binomial", "cauchit", lambda: RNG.integers(0, 2, N) * 1.0, lambda: RNG.uniform(0.1, 0.9, N)),
    ("quasibinomial", "probit", lambda: RNG.uniform(0, 1, N), lambda: RNG.uniform(0.1, 0.9, N)),
    ("gamma", "inverse", lambda: RNG.gamma(2.0, 1.0, N), lambda: RNG.uniform(0.5, 3, N)),
    ("gamma", "power(0.3)", lambda: RNG.gamma(2.0, 1.0, N), lambda: RNG.uniform(0.5, 3, N)),
    (
        "inverse_gaussian",
        "inverse_squared",
        lambda: RNG.gamma(3, 1, N),
        lambda: RNG.uniform(1, 3, N),
    ),
    (
        "negative_binomial",
        "log",
        lambda: RNG.poisson(4, N).astype(float),
        lambda: RNG.uniform(1, 6, N),
    ),
    (
        "tweedie",
        "log",
        lambda: RNG.poisson(1, N) * RNG.gamma(2, 1, N),
        lambda: RNG.uniform(0.5, 2, N),
    ),
]


def _family(name: str, link: str):
    params = {"negative_binomial": {"theta": 2.5}, "tweedie": {"var_power": 1.4}}
    return get_family(name, link, **params.get(name, {}))


# -- support as data -------------------------------------------------------------------------


def test_interval_inclusive_and_exclusive_ends():
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])
    closed = Interval(0.0, 1.0, True, True)
    half_open = Interval(0.0, np.inf, False, False)
    assert closed.contains(values).tolist() == [False, True, True, True, False, False]
    assert half_open.contains(values).tolist() == [False, False, True, True, True, False]
    assert str(closed) == "[0, 1]" and str(half_open) == "(0, inf)"


@pytest.mark.parametrize(
    "family, bad, words",
    [
        ("poisson", -1.0, "negative"),
        ("quasipoisson", -0.5, "negative"),
        ("negative_binomial", -2.0, "negative"),
        ("tweedie", -1.0, "negative"),
        ("gamma", 0.0, "non-positive"),
        ("inverse_gaussian", -3.0, "non-positive"),
        ("binomial", 1.5, "outside [0, 1]"),
        ("quasibinomial", -0.25, "outside [0, 1]"),
    ],
)
def test_support_rejects_outside_values_naming_the_column(family, bad, words):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=30)})
    frame["days_absent"] = rng.integers(1, 4, 30) / (4.0 if "binomial" in family else 1.0)
    frame.loc[7, "days_absent"] = bad
    params = {"tweedie": {"var_power": 1.5}}.get(family, {})
    with pytest.raises(ResponseError) as err:
        glmspec.fit("days_absent ~ x", frame, family=family, **params)
    message = str(err.value)
    assert "'days_absent'" in message and words in message and "row 7" in message
    # the family's interval is what decides: the bad value is outside it, the others inside
    support = family_class(family).support
    assert not support.contains(bad) and support.contains(frame["days_absent"].drop(7)).all()


@pytest.mark.parametrize("family", ["poisson", "tweedie", "negative_binomial", "binomial"])
def test_support_boundary_zero_is_allowed_where_the_interval_is_closed(family):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 40) if family == "binomial" else rng.negative_binomial(2, 0.3, 40)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": y.astype(float)})
    frame.loc[0, "y"] = 0.0
    params = {"tweedie": {"var_power": 1.5}}.get(family, {})
    res = glmspec.fit("y ~ x", frame, family=family, **params)
    assert res.nobs == 40


def test_valid_mu_reads_the_mean_domain():
    assert Binomial().valid_mu(np.array([0.2, 0.7]))
    assert not Binomial().valid_mu(np.array([0.2, 1.0]))
    assert not get_family("poisson").valid_mu(np.array([1.0, 0.0]))
    assert get_family("gaussian").valid_mu(np.array([-5.0, 3.0]))
    assert not get_family("gaussian").valid_mu(np.array([np.inf]))


# -- reading the response --------------------------------------------------------------------


def test_binomial_reads_zero_one_proportions_and_two_columns():
    y01 = np.array([[0.0], [1.0], [1.0]])
    y, trials, classes = Binomial.read_response(y01, "won")
    assert y.tolist() == [0.0, 1.0, 1.0] and trials.tolist() == [1.0, 1.0, 1.0]
    assert classes is None
    counts = np.array([[3.0, 1.0], [0.0, 5.0], [0.0, 0.0]])
    y, trials, _ = Binomial.read_response(counts, "cbind(s, f)")
    np.testing.assert_array_equal(y, [0.75, 0.0, 0.0])
    np.testing.assert_array_equal(trials, [4.0, 5.0, 0.0])
    factor = np.array([[1.0, 0.0], [0.0, 1.0]])  # patsy's coding of a two-level factor
    y, _, classes = Binomial.read_response(factor, "outcome", levels=("lost", "won"))
    assert y.tolist() == [0.0, 1.0] and classes == ("lost", "won")
    with pytest.raises(ResponseError, match="'outcome'.*3 classes"):
        Binomial.read_response(np.eye(3), "outcome", levels=("a", "b", "c"))
    with pytest.raises(ResponseError, match="'cbind.s, f.' must be non-negative"):
        Binomial.read_response(np.array([[1.0, -1.0]]), "cbind(s, f)")


def test_binomial_proportions_with_weights_match_two_count_columns():
    """R: glm(p ~ x, weights = n) and glm(cbind(s, n - s) ~ x) give the same fit; the design
    multiplies the prior weights by the trials the family reads."""
    rng = np.random.default_rng(5)
    n = rng.integers(1, 9, 25).astype(float)
    successes = rng.binomial(n.astype(int), 0.4).astype(float)
    frame = pd.DataFrame({"s": successes, "f": n - successes, "n": n, "p": successes / n})
    frame["x"] = rng.normal(size=25)
    counts = glmspec.fit("s + f ~ x", frame, family="binomial")
    props = glmspec.fit("p ~ x", frame, family="binomial", weights="n")
    np.testing.assert_allclose(props.params, counts.params, rtol=1e-10)
    np.testing.assert_allclose(counts.design.trials, n)
    np.testing.assert_allclose(counts.design.prior_weights, n)
    np.testing.assert_allclose(props.design.prior_weights, n)


def test_non_binomial_families_need_one_numeric_column():
    gamma = family_class("gamma")
    y, trials, classes = gamma.read_response(np.array([[1.0], [2.0]]), "y")
    assert y.tolist() == [1.0, 2.0] and trials is None and classes is None
    with pytest.raises(ResponseError, match="gamma family needs one numeric response column"):
        gamma.read_response(np.ones((2, 2)), "cbind(a, b)", column_names=("a", "b"))


def test_multinomial_reads_classes_dropping_unused_levels():
    values = pd.Series(pd.Categorical(["b", "c", "b"], categories=["c", "a", "b"]))
    codes, trials, classes = Multinomial.read_response(values, "party")
    assert classes == ("c", "b") and codes.tolist() == [1, 0, 1] and trials is None
    with pytest.raises(ResponseError, match="'party' has a single class"):
        Multinomial.read_response(np.array(["a", "a"]), "party")
    with pytest.raises(ResponseError, match="non-integer"):
        Multinomial.read_response(np.array([1.0, 2.5]), "party")


# -- statsmodels counterparts and Anscombe residuals ------------------------------------------


@pytest.mark.parametrize(
    "name, link, draw_y, draw_mu", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_statsmodels_counterpart_gives_the_same_deviance(name, link, draw_y, draw_mu):
    family = _family(name, link)
    y, mu, w = draw_y(), draw_mu(), RNG.uniform(0.5, 2.0, N)
    theirs = family.statsmodels_family()
    ours = family.deviance(y, mu, w)
    np.testing.assert_allclose(ours, theirs.deviance(y, mu, var_weights=w), rtol=1e-10)
    eta = family.link.link(mu)
    np.testing.assert_allclose(theirs.link.inverse(eta), mu, rtol=1e-12)
    np.testing.assert_allclose(theirs.link.deriv(mu), 1.0 / family.link.mu_eta(eta), rtol=1e-9)


@pytest.mark.parametrize(
    "name, link, draw_y, draw_mu", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_anscombe_residuals_match_statsmodels(name, link, draw_y, draw_mu):
    family = _family(name, link)
    y, mu, scale = draw_y(), draw_mu(), 1.7
    theirs = family.statsmodels_family().resid_anscombe(y, mu, var_weights=1.0, scale=scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        ours = family.anscombe(y, mu, scale)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_power_link_counterpart():
    link = Power(0.3)
    mu = np.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(link.statsmodels_link().inverse(link.link(mu)), mu, rtol=1e-12)


def test_multinomial_has_no_glm_counterpart_or_anscombe():
    with pytest.raises(SpecificationError, match="MNLogit"):
        Multinomial().statsmodels_family()
    with pytest.raises(SpecificationError, match="multinomial"):
        Multinomial().anscombe(np.ones(2), np.ones(2))


# -- ratio labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, link, label",
    [
        ("binomial", "logit", "odds ratio"),
        ("quasibinomial", "logit", "odds ratio"),
        ("binomial", "log", "risk ratio"),
        ("binomial", "probit", None),
        ("poisson", "log", "rate ratio"),
        ("quasipoisson", "log", "rate ratio"),
        ("negative_binomial", "log", "rate ratio"),
        ("poisson", "identity", None),
        ("gaussian", "log", "ratio of means"),
        ("gaussian", "identity", None),
        ("gamma", "log", "ratio of means"),
        ("inverse_gaussian", "log", "ratio of means"),
        ("tweedie", "log", "ratio of means"),
        ("multinomial", None, "relative risk ratio"),
    ],
)
def test_ratio_labels(family, link, label):
    assert _family(family, link).ratio_label == label


# -- the multinomial family --------------------------------------------------------------------


def test_multinomial_family_and_softmax_link():
    family = get_family("multinomial")
    assert isinstance(family, Multinomial) and isinstance(family.link, Softmax)
    assert family.is_multiclass and family.fixed_scale and family.link.name == "softmax"
    assert get_family("multinomial", "logit").link.name == "softmax"  # R's alias
    with pytest.raises(SpecificationError, match="softmax"):
        get_family("multinomial", "probit")
    assert Multinomial.allows_link("logit") and not Multinomial.allows_link("cloglog")
    assert "multinomial" in FAMILIES and FAMILIES["multinomial"] is Multinomial


def test_softmax_link_matches_the_fitted_probabilities():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=60)})
    frame["y"] = np.where(frame["x"] + rng.normal(size=60) > 0.3, "b", "a")
    frame.loc[rng.choice(60, 20, replace=False), "y"] = "c"
    res = glmspec.fit("y ~ x", frame, family="multinomial")
    assert isinstance(res.family, Multinomial)
    X = np.column_stack([np.ones(60), frame["x"]])
    eta = X @ res.params.to_numpy()
    probs = res.family.link.inverse(eta)
    np.testing.assert_allclose(probs, res.fittedvalues.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.family.link.link(probs), eta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(probs, special.softmax(np.column_stack([0 * eta[:, 0], eta]), 1))


def test_fit_accepts_a_multinomial_family_object():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(size=50), "y": rng.choice(["u", "v", "w"], 50)})
    by_name = glmspec.fit("y ~ x", frame, family="multinomial")
    by_object = glmspec.fit("y ~ x", frame, family=Multinomial())
    pd.testing.assert_frame_equal(by_name.params, by_object.params)
    assert by_object.spec.family == "multinomial" and by_object.spec.link == "softmax"
