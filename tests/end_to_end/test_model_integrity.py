"""Issue 12: nothing silently changes the model, and clear errors at the boundaries.

* text columns of numbers (a stray ``"abc"``, ``"4,706"``, ``"1.2.3"``) or ISO dates are
  refused naming the column and the values, on every engine; ``C(col)`` is accepted;
* ``[check] tol`` outside (0, 1) is a spec error, and a requested check that could not run is
  never a success;
* ``fit_arrays`` finds an unnamed constant column as the intercept (statsmodels' null model);
* residuals with ``freq_weights`` are those of one copy of the row, as statsmodels';
* non-pandas ``data`` and statsmodels family objects get messages saying what to pass;
* CLI errors in the command line's words, one problem per line, no raw ``[Errno N]``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import glmspec
from glmspec.design.build import predict_matrix
from glmspec.design.matrix import intercept_column
from glmspec.errors import DataError, SpecError, UnknownFamilyError
from glmspec.spec import Spec
from tests.helpers import run_cli

LINKS = sm.families.links


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["north", "south", "east"], n)
    y = rng.poisson(np.exp(0.5 + 0.3 * x)).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": g})


# ------------------------------------------------------------------ text columns of numbers


@pytest.mark.parametrize("stray", ["abc", "4,706", "1.2.3"])
def test_numeric_column_with_a_stray_text_cell_is_refused(stray):
    data = _frame()
    data["income"] = data["x"].round(4).astype(object)
    data.loc[7, "income"] = stray
    before = data.copy()
    with pytest.raises(DataError) as info:
        glmspec.fit("y ~ income + g", data, "poisson")
    message = str(info.value)
    assert "'income'" in message and repr(stray) in message
    assert "C(income)" in message  # the way to state the intent
    pd.testing.assert_frame_equal(data, before)  # the caller's data untouched


def test_numbers_stored_as_text_are_refused_and_c_states_the_intent():
    data = _frame()
    data["code"] = (np.arange(len(data)) % 40 + 100).astype(str)  # 40 levels: coded path
    with pytest.raises(DataError, match=r"column 'code' holds numbers stored as text.*C\(code\)"):
        glmspec.fit("y ~ x + code", data, "poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = glmspec.fit("y ~ x + C(code)", data, "poisson")
    assert len(res.params) == 2 + 39  # one level per value, as asked


def test_stray_text_refused_inside_a_function_and_interaction_but_not_inside_c():
    data = _frame()
    data["dose"] = (data["x"].abs() + 1).round(1).astype(str)
    data.loc[3, "dose"] = "n/a?"
    for formula in ("y ~ np.log(dose)", "y ~ dose:g", "y ~ C(g) + dose"):
        with pytest.raises(DataError, match=r"'dose'.*'n/a\?'"):
            glmspec.fit(formula, data, "poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = glmspec.fit('y ~ C(Q("dose"))', data, "poisson")
    assert 'C(Q("dose"))[T.n/a?]' in res.params.index


def test_ordinary_text_factor_and_binomial_text_response_still_work():
    data = _frame()
    data["won"] = np.where(data["x"] + np.random.default_rng(1).normal(size=60) > 0, "1", "0")
    res = glmspec.fit("y ~ x + g", data, "poisson")
    assert list(res.params.index) == ["Intercept", "g[T.north]", "g[T.south]", "x"]
    binom = glmspec.fit("won ~ x", data, "binomial")
    assert binom.design.classes == ("0", "1")


def test_dates_as_text_get_a_message_that_says_so():
    data = _frame()
    data["day"] = pd.date_range("2024-03-01", periods=len(data)).strftime("%Y-%m-%d")
    with pytest.raises(DataError) as info:
        glmspec.fit("y ~ x + day", data, "poisson")
    message = str(info.value)
    assert "'day' holds dates as text" in message and "'2024-03-01'" in message
    assert "day of the year" in message and "C(day)" in message
    assert len(message) < 400  # a sentence, not a singular-design dump


def test_datetime_column_as_a_term_gets_the_same_message():
    data = _frame()
    data["when"] = pd.date_range("2024-03-01", periods=len(data), freq="D")
    with pytest.raises(DataError, match=r"'when' holds dates \(datetime\).*C\(when\)"):
        glmspec.fit("y ~ x + when", data, "poisson")
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(DataError, match=r"'when' holds dates \(datetime\)"):
        glmspec.fit("y ~ x + when", dd.from_pandas(data, npartitions=2), "poisson")


def test_text_numbers_refused_in_a_spec_run_without_stopping_other_models(tmp_path):
    data = _frame()
    data["income"] = data["x"].round(4).astype(str)
    data.loc[5, "income"] = "4,706"
    data.to_csv(tmp_path / "d.csv", index=False)
    spec = Spec.from_dict(
        {
            "data": str(tmp_path / "d.csv"),
            "model": [
                {"name": "bad", "formula": "y ~ income", "family": "poisson"},
                {"name": "good", "formula": "y ~ x", "family": "poisson"},
            ],
        }
    )
    bad, good = spec.fit()
    assert bad.results is None and "'income'" in bad.error and "'4,706'" in bad.error
    assert good.ok


def test_text_numbers_refused_on_dask_as_in_memory():
    dd = pytest.importorskip("dask.dataframe")
    data = _frame()
    data["income"] = data["x"].round(4).astype(str)
    data.loc[50, "income"] = "1.2.3"  # in the last partition only
    ddf = dd.from_pandas(data, npartitions=3)
    with pytest.raises(DataError) as on_dask:
        glmspec.fit("y ~ income", ddf, "poisson")
    with pytest.raises(DataError) as in_memory:
        glmspec.fit("y ~ income", data, "poisson")
    assert str(on_dask.value) == str(in_memory.value)
    assert "'income'" in str(on_dask.value) and "'1.2.3'" in str(on_dask.value)


def test_cli_fit_refuses_a_csv_column_with_thousands_separators(tmp_path):
    data = _frame()
    data["visitors"] = (data["y"] * 1000 + 706).astype(int).map("{:,}".format)
    data.to_csv(tmp_path / "d.csv", index=False)
    proc = run_cli("fit", "y ~ visitors", "--data", "d.csv", "--family", "poisson", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'visitors'" in lines[0] and "Traceback" not in proc.stderr
    assert "thousands separators" in lines[0] and "'1,706'" in lines[0]


# ------------------------------------------------------------------ the statsmodels check


@pytest.mark.parametrize("tol", [1, 1.5, 0, -1e-6])
def test_check_tol_outside_zero_one_is_a_spec_error(tmp_path, tol):
    _frame().to_csv(tmp_path / "d.csv", index=False)
    mapping = {
        "data": str(tmp_path / "d.csv"),
        "model": [{"name": "m", "formula": "y ~ x", "family": "poisson"}],
        "check": {"tol": tol},
    }
    with pytest.raises(SpecError, match=r"\[check\], key 'tol': must be a number in \(0, 1\)"):
        Spec.from_dict(mapping)


def test_check_tol_one_in_a_spec_file_exits_2_and_writes_nothing(tmp_path):
    _frame().to_csv(tmp_path / "d.csv", index=False)
    text = 'data = "d.csv"\n[[model]]\nname = "m"\nformula = "y ~ x"\nfamily = "poisson"\n'
    (tmp_path / "s.toml").write_text(text + "[check]\ntol = 1\n")
    proc = run_cli("run", "s.toml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2 and "tol" in proc.stderr and "(0, 1)" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_requested_check_that_does_not_run_is_not_a_success(tmp_path):
    _frame().to_csv(tmp_path / "d.csv", index=False)
    model = {"name": "ridge", "formula": "y ~ x + g", "family": "poisson"}
    model |= {"penalty": "l2", "alpha": 0.1}  # statsmodels cannot check a penalized fit
    mapping = {"data": str(tmp_path / "d.csv"), "model": [model]}
    (checked,) = Spec.from_dict(mapping).fit()
    assert checked.results.converged and checked.check is None and checked.check_error
    assert not checked.ok
    (unchecked,) = Spec.from_dict({**mapping, "check": {"against": "none"}}).fit()
    assert unchecked.check_error is None and unchecked.ok
    text = (
        'data = "d.csv"\n[[model]]\nname = "ridge"\nformula = "y ~ x + g"\nfamily = "poisson"\n'
        'penalty = "l2"\nalpha = 0.1\n'
    )
    (tmp_path / "s.toml").write_text(text)
    proc = run_cli("run", "s.toml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no statsmodels check" in proc.stdout
    assert run_cli("run", "s.toml", "--out", "out", "--no-check", cwd=tmp_path).returncode == 0


# ------------------------------------------------------------------ fit_arrays intercept


def _count_data(n: int = 200, seed: int = 3):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(size=n)
    y = rng.poisson(np.exp(0.2 + 0.4 * x1 - 0.5 * x2)).astype(float)
    return y, x1, x2


@pytest.mark.parametrize("value", [1.0, 2.5])
@pytest.mark.parametrize(
    "family, sm_family",
    [("poisson", sm.families.Poisson()), ("gamma", sm.families.Gamma(LINKS.Log()))],
)
def test_fit_arrays_finds_an_unnamed_constant_column(value, family, sm_family):
    y, x1, x2 = _count_data()
    y = y + 0.5 if family == "gamma" else y  # positive for the Gamma
    X = np.column_stack([x1, np.full_like(x1, value), x2])  # constant in the middle
    link = "log" if family == "gamma" else None
    res = glmspec.fit_arrays(y, X, family, link)
    sm_res = sm.GLM(y, X, family=sm_family).fit(tol=1e-13, tol_criterion="params", maxiter=500)
    assert res.design.has_intercept and res.design.constant_column == 1
    assert res.null_deviance == pytest.approx(sm_res.null_deviance, rel=1e-8)
    if family == "poisson":  # statsmodels' Gamma llnull uses its own dispersion convention
        assert res.llnull == pytest.approx(sm_res.llnull, rel=1e-8)
        assert res.pseudo_rsquared("mcf") == pytest.approx(sm_res.pseudo_rsquared("mcf"), rel=1e-7)
    formula = glmspec.fit("y ~ x1 + x2", pd.DataFrame({"y": y, "x1": x1, "x2": x2}), family, link)
    assert res.null_deviance == pytest.approx(formula.null_deviance, rel=1e-10)
    assert res.llnull == pytest.approx(formula.llnull, rel=1e-10)
    assert res.summary().as_text().count(str(len(y) - 1)) >= 1  # df_null = n - 1


def test_fit_arrays_without_constant_keeps_r_no_intercept_null_model():
    y, x1, x2 = _count_data()
    X = np.column_stack([x1, x2])
    res = glmspec.fit_arrays(y, X, "poisson")
    formula = glmspec.fit("y ~ 0 + x1 + x2", pd.DataFrame({"y": y, "x1": x1, "x2": x2}), "poisson")
    assert not res.design.has_intercept and res.design.constant_column is None
    # R: glm(y ~ 0 + x1 + x2)$null.deviance is the deviance at mu = exp(0) = 1
    expected = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - (y - 1))
    assert res.null_deviance == pytest.approx(expected, rel=1e-12)
    assert res.null_deviance == pytest.approx(formula.null_deviance, rel=1e-12)


def test_constant_column_rule_matches_statsmodels():
    n = 100
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    zeros, twos, ones = np.zeros(n), np.full(n, 2.0), np.ones(n)
    late = x.copy()
    late[:80] = 3.0  # constant over the first rows only
    cases = [
        np.column_stack([x, zeros]),  # a zero column is not an intercept
        np.column_stack([x, twos, ones]),  # a column of ones is preferred
        np.column_stack([x, twos]),
        np.column_stack([late, x]),
    ]
    for X in cases:
        sm_data = sm.GLM(rng.poisson(1.0, n), X).data
        expected = sm_data.const_idx if sm_data.k_constant == 1 else None
        assert intercept_column(X) == expected, X[:2]


# ------------------------------------------------------------------ freq_weights residuals


@pytest.mark.parametrize(
    "family, link, sm_family",
    [
        ("poisson", None, sm.families.Poisson()),
        ("gamma", "log", sm.families.Gamma(LINKS.Log())),
        ("gaussian", None, sm.families.Gaussian()),
    ],
)
def test_freq_weights_residuals_match_statsmodels(family, link, sm_family):
    y, x1, _ = _count_data(120, seed=5)
    rng = np.random.default_rng(6)
    y = y + (0.5 if family == "gamma" else 0.0)
    f = rng.integers(1, 5, len(y)).astype(float)
    w = rng.uniform(0.5, 2.0, len(y))
    data = pd.DataFrame({"y": y, "x": x1, "f": f, "w": w})
    res = glmspec.fit("y ~ x", data, family, link, freq_weights="f", weights="w")
    model = sm.GLM(y, np.asarray(res.design.X), family=sm_family, freq_weights=f, var_weights=w)
    sm_res = model.fit(tol=1e-13, tol_criterion="params", maxiter=500)
    for name in ("resid_response", "resid_pearson", "resid_deviance", "resid_working"):
        np.testing.assert_allclose(
            getattr(res, name), getattr(sm_res, name), rtol=1e-7, atol=1e-9, err_msg=name
        )
    np.testing.assert_allclose(res.resid_anscombe, sm_res.resid_anscombe, rtol=1e-7, atol=1e-9)
    # the sums still count every copy
    assert res.deviance == pytest.approx(np.sum(f * res.resid_deviance**2), rel=1e-10)
    assert res.pearson_chi2 == pytest.approx(np.sum(f * res.resid_pearson**2), rel=1e-10)
    assert res.pearson_chi2 == pytest.approx(sm_res.pearson_chi2, rel=1e-7)


def test_freq_weights_residuals_equal_the_duplicated_rows():
    y, x1, _ = _count_data(80, seed=7)
    f = np.random.default_rng(8).integers(1, 4, len(y))
    data = pd.DataFrame({"y": y, "x": x1, "f": f.astype(float)})
    res = glmspec.fit("y ~ x", data, "poisson", freq_weights="f")
    long = data.loc[data.index.repeat(f)]
    dup = glmspec.fit("y ~ x", long, "poisson")
    first = ~long.index.duplicated()
    for name in ("resid_pearson", "resid_deviance"):
        np.testing.assert_allclose(
            getattr(res, name), getattr(dup, name)[first], rtol=1e-8, atol=1e-10
        )


def test_prior_weights_residuals_unchanged_and_as_statsmodels_var_weights():
    y, x1, _ = _count_data(100, seed=9)
    w = np.random.default_rng(10).uniform(0.5, 3.0, len(y))
    res = glmspec.fit("y ~ x", pd.DataFrame({"y": y, "x": x1, "w": w}), "poisson", weights="w")
    sm_res = sm.GLM(y, np.asarray(res.design.X), family=sm.families.Poisson(), var_weights=w).fit(
        tol=1e-13, tol_criterion="params"
    )
    np.testing.assert_allclose(res.resid_pearson, sm_res.resid_pearson, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.resid_deviance, sm_res.resid_deviance, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ data and family boundaries


def test_pyarrow_table_and_interchange_objects_fit_as_pandas():
    pa = pytest.importorskip("pyarrow")
    data = _frame()
    expected = glmspec.fit("y ~ x + g", data, "poisson")
    table = pa.Table.from_pandas(data, preserve_index=False)

    class InterchangeOnly:  # a DataFrame library known only by the interchange protocol
        def __init__(self, inner):
            self._inner = inner

        def __dataframe__(self, nan_as_null=False, allow_copy=True):
            return self._inner.__dataframe__(nan_as_null, allow_copy)

    for source in (table, InterchangeOnly(table)):
        res = glmspec.fit("y ~ x + g", source, "poisson")
        pd.testing.assert_series_equal(res.params, expected.params, rtol=1e-12)
    new = pa.Table.from_pandas(data.head(5), preserve_index=False)
    np.testing.assert_allclose(
        predict_matrix(expected.design, new),
        predict_matrix(expected.design, data.head(5)),
    )


def test_unconvertible_dataframe_object_says_to_pass_pandas():
    class Broken:
        def __dataframe__(self, nan_as_null=False, allow_copy=True):
            raise RuntimeError("no columns today")

    with pytest.raises(DataError, match="could not be converted to pandas.*pass a pandas"):
        glmspec.fit("y ~ x", Broken(), "poisson")


@pytest.mark.parametrize(
    "data, words",
    [
        (None, ["data is None", "pandas DataFrame"]),
        ("visits.csv", ["'visits.csv'", "pd.read_csv('visits.csv')", "--data visits.csv"]),
        (Path("visits.parquet"), ["pd.read_parquet('visits.parquet')"]),
        (np.zeros((5, 2)), ["numpy array", "pd.DataFrame(array, columns=", "fit_arrays"]),
    ],
)
def test_data_that_is_not_a_table_says_what_data_must_be(data, words):
    with pytest.raises(DataError) as info:
        glmspec.fit("y ~ x", data, "poisson")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "family, expected",
    [
        (sm.families.Poisson(), "family='poisson'."),
        (sm.families.Binomial(LINKS.Probit()), "family='binomial', link='probit'."),
        (sm.families.Gamma(LINKS.Log()), "family='gamma', link='log'."),
        (sm.families.NegativeBinomial(alpha=0.5), "family='negative_binomial', theta=2."),
        (sm.families.InverseGaussian(), "family='inverse_gaussian'."),
    ],
)
def test_statsmodels_family_object_gets_the_family_name(family, expected):
    data = _frame()
    data["y"] = data["y"] + 1.0
    for call in (
        lambda: glmspec.fit("y ~ x", data, family),
        lambda: glmspec.fit_arrays(data["y"], np.column_stack([np.ones(60), data["x"]]), family),
    ):
        with pytest.raises(UnknownFamilyError) as info:
            call()
        assert "pass the family name" in str(info.value) and str(info.value).endswith(expected)


# ------------------------------------------------------------------ command-line words


def _write_data(folder: Path) -> None:
    data = _frame()
    data.loc[4, "x"] = np.nan
    data.to_csv(folder / "d.csv", index=False)


def test_cli_fit_errors_use_command_line_words(tmp_path):
    _write_data(tmp_path)
    proc = run_cli("fit", "y ~ x", "--data", "d.csv", "--family", "poisson", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--missing drop" in proc.stderr and "missing=" not in proc.stderr
    proc = run_cli(
        "fit", "y ~ x", "--data", "d.csv", "--family", "poisson", "--weights", "wt", cwd=tmp_path
    )
    assert proc.returncode == 2 and "--weights: column 'wt' is not in d.csv" in proc.stderr
    assert "invalid spec" not in proc.stderr and "<dict>" not in proc.stderr
    assert "key '" not in proc.stderr


def test_cli_fit_several_problems_one_per_line(tmp_path):
    _write_data(tmp_path)
    proc = run_cli(
        "fit", "y ~ x + zz", "--data", "d.csv", "--family", "poison", "--offset", "off",
        "--check-tol", "2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    header, *problems = proc.stderr.strip().splitlines()
    assert header == "glmspec: error: glmspec fit: 4 problems with the arguments:"
    assert [p.split(":")[0] for p in problems] == [
        "  - --family",
        "  - the formula",
        "  - --offset",
        "  - --check-tol",
    ]
    assert "Did you mean 'poisson'?" in problems[0] and "'zz'" in problems[1]


def test_cli_spec_with_several_problems_prints_one_per_line(tmp_path):
    _write_data(tmp_path)
    text = 'data = "d.csv"\n[[model]]\nname = "m"\nformula = "y ~ q"\nlink = "bad"\n'
    (tmp_path / "s.toml").write_text(text + "[check]\ntol = 1\n")
    proc = run_cli("run", "s.toml", cwd=tmp_path)
    assert proc.returncode == 2
    header, *problems = proc.stderr.strip().splitlines()
    assert header == "glmspec: error: invalid spec s.toml: 3 problem(s):"
    assert len(problems) == 3 and all(p.startswith("  - ") for p in problems)
    assert any("key 'link'" in p for p in problems) and any("'q'" in p for p in problems)


def test_cli_system_errors_name_the_path_and_the_action(tmp_path):
    data = _frame()
    data.to_csv(tmp_path / "d.csv", index=False)
    text = 'data = "d.csv"\n[[model]]\nname = "m"\nformula = "y ~ x"\nfamily = "poisson"\n'
    (tmp_path / "s.toml").write_text(text)
    (tmp_path / "folder").mkdir()
    cases = [
        (["run", "folder"], ["spec file 'folder' cannot be read", "Is a directory"]),
        (
            ["predict", "s.toml", "--model", "m", "--data", "folder", "--out", "p.csv"],
            ["cannot read the data file", "folder'"],
        ),
        (
            ["predict", "s.toml", "--model", "m", "--data", "d.csv", "--out", "d.csv/p.csv"],
            ["cannot write the predictions to 'd.csv/p.csv'"],
        ),
    ]
    for args, words in cases:
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "[Errno" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        for word in words:
            assert word in proc.stderr, (args, proc.stderr)


def test_report_states_the_freq_weights_residual_convention(tmp_path):
    from glmspec.report.tables import model_tables
    from glmspec.spec import FittedModel

    y, x1, _ = _count_data(60, seed=11)
    data = pd.DataFrame({"y": y, "x": x1, "f": np.arange(60) % 3 + 1.0})
    data.to_csv(tmp_path / "d.csv", index=False)
    spec = Spec.from_dict(
        {
            "data": str(tmp_path / "d.csv"),
            "model": [{"name": "m", "formula": "y ~ x", "family": "poisson", "freq_weights": "f"}],
        }
    )
    (fitted,) = spec.fit(check=False)
    tables = model_tables(spec, FittedModel(spec.models[0], results=fitted.results), "m")
    assert "Residuals (and the residual plots) are per row, those of one copy" in str(
        tables["conventions"]
    )
