"""The Dask engine gives the in-memory fit's numbers, on a LocalCluster of two processes.

Data are split into uneven partitions (one of a single row, one empty after dropping missing
values) and sorted so that one factor level appears only in the last partition. Every family
is fitted both ways and compared to 1e-10 relative: coefficients, standard errors, llf,
deviance, null deviance, Pearson chi-square and fitted values. A worker killed during a fit is
replaced by Dask and the fit ends with the same numbers.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import glmspec  # noqa: E402
from glmspec.errors import (  # noqa: E402
    DataError,
    FormulaError,
    MissingValueError,
    PredictionError,
    ResponseError,
    SingularDesignError,
    SpecificationError,
)
from glmspec.families import Poisson  # noqa: E402

RTOL = 1e-10
N = 3000
# uneven partitions: 1 row, 99, 1400, 500, the rest
DIVISIONS = [0, 1, 100, 1500, 2000, N - 1]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N)
    z = rng.uniform(0, 2, size=N)
    store = np.where(np.arange(N) >= 2000, "late", rng.choice(["a", "b", "c"], size=N))
    eta = 0.2 + 0.4 * x - 0.3 * z + 0.5 * (store == "b") + 0.3 * (store == "late")
    mu = np.exp(eta)
    p = 1 / (1 + np.exp(-eta))
    trials = rng.integers(1, 6, size=N)
    return pd.DataFrame(
        {
            "x": x,
            "z": z,
            "store": store,
            "count": rng.poisson(mu),
            "nb": rng.negative_binomial(3.0, 3.0 / (3.0 + mu)),
            "hit": rng.binomial(1, p),
            "share": rng.binomial(trials, p) / trials,
            "trials": trials.astype(float),
            "cost": rng.gamma(4.0, mu / 4.0),
            "wait": rng.wald(mu, 8.0),
            "level": 1.0 + 2.0 * x - z + rng.normal(size=N),
            "spend": np.where(rng.uniform(size=N) < 0.3, 0.0, rng.gamma(2.0, mu / 2.0)),
            "w": rng.uniform(0.5, 2.0, size=N),
            "days": rng.uniform(1, 10, size=N),
        }
    )


def _split(df: pd.DataFrame):
    return dd.from_pandas(df, npartitions=1).repartition(divisions=DIVISIONS)


CASES = [
    ("level ~ x + z + C(store)", "gaussian", {}),
    ("level ~ x + z + store", "gaussian", {"weights": "w"}),
    ("cost ~ x + z", "gaussian", {"link": "log"}),
    ("count ~ x + z + C(store)", "poisson", {"exposure": "days"}),
    ("count ~ x + z", "poisson", {"link": "sqrt"}),
    ("hit ~ x + z + C(store)", "binomial", {}),
    ("hit ~ x + z", "binomial", {"link": "probit"}),
    ("share ~ x + store", "binomial", {"weights": "trials"}),
    ("cost ~ x + z + C(store)", "gamma", {"link": "log"}),
    ("cost ~ x + z", "gamma", {}),
    ("wait ~ x + z", "inverse_gaussian", {"link": "log"}),
    ("nb ~ x + z + store", "negative_binomial", {"theta": 3.0}),
    ("nb ~ x + z + C(store)", "negative_binomial", {}),
    ("spend ~ x + z", "tweedie", {"var_power": 1.5}),
    ("count ~ x + store", "quasipoisson", {"offset": "z"}),
    ("share ~ x", "quasibinomial", {"weights": "trials"}),
    ("count ~ x + z + store:x", "poisson", {"freq_weights": "trials"}),
    ("count ~ np.log(z) + I(x ** 2) + store", "poisson", {}),
]


def _close(a, b, what: str) -> None:
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=RTOL, atol=0, err_msg=what)


@pytest.mark.parametrize("formula, family, options", CASES)
def test_same_numbers_as_in_memory(client, formula, family, options):
    df = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = glmspec.fit(formula, df, family=family, **options)
        dask_fit = glmspec.fit(formula, _split(df), family=family, **options)
    assert dask_fit.engine == "dask" and dask_fit.converged
    assert list(dask_fit.params.index) == list(memory.params.index)
    _close(memory.params, dask_fit.params, "params")
    _close(memory.bse, dask_fit.bse, "bse")
    for name in ("llf", "deviance", "null_deviance", "pearson_chi2", "scale", "aic", "theta_se"):
        if not hasattr(memory, name):
            continue
        if np.isfinite(getattr(memory, name)):
            _close(getattr(memory, name), getattr(dask_fit, name), name)
    assert dask_fit.nobs == memory.nobs and dask_fit.df_resid == memory.df_resid
    fitted = dask_fit.fittedvalues.compute().sort_index()
    _close(memory.fittedvalues.to_numpy(), fitted.to_numpy(), "fittedvalues")
    # sqrt(unit deviance) near zero amplifies rounding: compare on the residuals' own scale
    resid = dask_fit.resid_deviance.compute().sort_index().to_numpy()
    expected = memory.resid_deviance.to_numpy()
    atol = RTOL * np.max(np.abs(expected))
    np.testing.assert_allclose(resid, expected, rtol=RTOL, atol=atol, err_msg="resid_deviance")


def test_level_in_one_partition_only_is_a_column(client):
    df = _data()
    res = glmspec.fit("count ~ x + C(store)", _split(df), family="poisson")
    assert "C(store)[T.late]" in res.params.index
    assert res.design.factor_levels["C(store)"] == ("a", "b", "c", "late")


def test_missing_values_dropped_as_in_memory(client):
    df = _data()
    df.loc[[0, 5, 150, 151, 1800], "x"] = np.nan
    df.loc[[7, 2500], "store"] = None
    memory = glmspec.fit("count ~ x + store", df, family="poisson", missing="drop")
    dask_fit = glmspec.fit("count ~ x + store", _split(df), family="poisson", missing="drop")
    assert dask_fit.n_dropped == memory.n_dropped == 7
    _close(memory.params, dask_fit.params, "params")
    _close(memory.llf, dask_fit.llf, "llf")
    fitted = dask_fit.fittedvalues.compute().sort_index()
    pd.testing.assert_index_equal(fitted.index, memory.fittedvalues.index)


def test_missing_values_named_with_partitions(client):
    df = _data()
    df.loc[[5, 150, 151], "x"] = np.nan
    with pytest.raises(MissingValueError) as info:
        glmspec.fit("count ~ x + store", _split(df), family="poisson")
    message = str(info.value)
    assert "partition 1" in message and "partition 2" in message
    assert "'x': 1 row(s)" in message and "'x': 2 row(s)" in message
    assert "missing='drop'" in message


def test_response_outside_support_names_partition(client):
    df = _data()
    df.loc[1700, "count"] = -1
    with pytest.raises(ResponseError, match=r"partition 3: .*'count'"):
        glmspec.fit("count ~ x", _split(df), family="poisson")


def test_aliased_column_named(client):
    df = _data()
    df["x2"] = 2.0 * df["x"]
    with pytest.raises(SingularDesignError, match=r"'x2' = \+2 \* 'x'"):
        glmspec.fit("count ~ x + x2", _split(df), family="poisson")


def test_refusals_are_clear(client):
    ddf = _split(_data())
    with pytest.raises(FormulaError, match="stateful transform"):
        glmspec.fit("count ~ center(x)", ddf, family="poisson")
    with pytest.raises(FormulaError, match="not a column"):
        glmspec.fit("count ~ xx", ddf, family="poisson")
    with pytest.raises(DataError, match="weights must name a column"):
        glmspec.fit("count ~ x", ddf, family="poisson", weights=np.ones(N))
    with pytest.raises(SpecificationError, match="cov_type"):
        glmspec.fit("count ~ x", ddf, family="poisson", cov_type="HC0")
    res = glmspec.fit("count ~ x + store", ddf, family="poisson")
    with pytest.raises(SpecificationError, match="not offered"):
        res.get_influence()


def test_predict_pandas_and_dask(client):
    df = _data()
    memory = glmspec.fit("count ~ x + store", df, family="poisson")
    res = glmspec.fit("count ~ x + store", _split(df), family="poisson")
    new = df.iloc[[3, 2100, 40]]
    _close(memory.predict(new), res.predict(new), "predict pandas")
    lazy = res.predict(_split(df), which="linear").compute().sort_index()
    _close(memory.predict(df, which="linear"), lazy, "predict dask")
    with pytest.raises(PredictionError, match="not seen"):
        res.predict(new.assign(store="zzz"))


def test_data_not_modified(client):
    df = _data()
    ddf = _split(df)
    before = ddf.compute()
    glmspec.fit("count ~ x + store", ddf, family="poisson", missing="drop")
    pd.testing.assert_frame_equal(ddf.compute(), before)


class _KillsOneWorker(Poisson):
    """Poisson whose deviance exits the worker process the first time its flag file exists
    (the flag's path travels with the instance: workers import this module afresh)."""

    def deviance(self, y, mu, weights):
        try:
            os.remove(self.kill_flag)
        except FileNotFoundError:
            return super().deviance(y, mu, weights)
        os._exit(1)


def test_worker_lost_mid_fit_gives_same_numbers(client, tmp_path):
    df = _data()
    expected = glmspec.fit("count ~ x + z + store", df, family="poisson")
    family = _KillsOneWorker()
    object.__setattr__(family, "kill_flag", str(tmp_path / "kill-one-worker"))
    open(family.kill_flag, "w").close()
    workers_before = set(client.scheduler_info()["workers"])
    res = glmspec.fit("count ~ x + z + store", _split(df), family=family)
    assert not os.path.exists(family.kill_flag), "no worker ran the killing deviance"
    _close(expected.params, res.params, "params after a worker was lost")
    _close(expected.bse, res.bse, "bse after a worker was lost")
    client.wait_for_workers(2, timeout=60)
    assert set(client.scheduler_info()["workers"]) != workers_before


def test_spec_with_dask_engine_runs_from_the_command_line(tmp_path):
    """``engine = "dask"`` with a Parquet glob: ``glmspec run`` fits on a local cluster and
    writes the report; its numbers equal the in-memory fit's."""
    import json
    import subprocess

    df = _data()
    folder = tmp_path / "visits"
    folder.mkdir()
    for i, (start, stop) in enumerate(zip(DIVISIONS[:-1], [*DIVISIONS[1:-1], N], strict=True)):
        df.iloc[start:stop].to_parquet(folder / f"part-{i}.parquet")
    (tmp_path / "spec.toml").write_text(
        'title = "dask spec"\ndata = "visits/*.parquet"\nengine = "dask"\n\n'
        '[[model]]\nname = "small"\nformula = "count ~ x"\nfamily = "poisson"\n\n'
        '[[model]]\nname = "stores"\nformula = "count ~ x + C(store)"\nfamily = "poisson"\n'
        '\n[report]\nformats = ["html", "json"]\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "glmspec", "run", "spec.toml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "statsmodels check passed" in done.stdout
    results = json.loads((tmp_path / "out" / "spec" / "results.json").read_text())
    memory = glmspec.fit("count ~ x + C(store)", df, family="poisson")
    written = results["models"]["stores"]["coefficients"]
    for name, value in memory.params.items():
        assert written[name]["estimate"] == pytest.approx(value, rel=RTOL)
        assert written[name]["bse"] == pytest.approx(memory.bse[name], rel=RTOL)
    html = (tmp_path / "out" / "spec" / "index.html").read_text()
    assert "Fitted on Dask data in 5 partitions" in html
    assert "random sample" in html or "collected from the workers" in html


def test_spec_engine_problems_are_listed(tmp_path):
    from glmspec.spec import SpecError, load_spec

    (tmp_path / "bad.toml").write_text(
        'data = "nothing/*.parquet"\nengine = "spark"\nscheduler = 3\n\n'
        '[[model]]\nname = "m"\nformula = "y ~ x"\n'
    )
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "bad.toml")
    text = str(info.value)
    assert "engine" in text and "'spark'" in text and "scheduler" in text


def _multinomial_data() -> pd.DataFrame:
    df = _data(3)
    rng = np.random.default_rng(4)
    eta = np.column_stack(
        [np.zeros(N), 0.5 * df.x, -0.3 + df.z, 0.2 - 0.4 * df.x + 0.5 * (df.store == "late")]
    )
    p = np.exp(eta)
    p /= p.sum(axis=1, keepdims=True)
    choice = (p.cumsum(axis=1) > rng.uniform(size=(N, 1))).argmax(axis=1)
    df["kind"] = np.array(["bus", "car", "rail", "walk"])[choice]
    df["shift"] = rng.normal(scale=0.2, size=N)
    return df


@pytest.mark.parametrize(
    "formula, options",
    [
        ("kind ~ x + z + C(store)", {}),
        ("kind ~ x + z", {"offset": "shift"}),
        ("kind ~ x + z - 1", {"weights": "w"}),
    ],
)
def test_multinomial_same_numbers_as_in_memory(client, formula, options):
    df = _multinomial_data()
    memory = glmspec.fit(formula, df, family="multinomial", **options)
    res = glmspec.fit(formula, _split(df), family="multinomial", **options)
    assert res.engine == "dask" and res.converged
    _close(memory.params, res.params, "params")
    _close(memory.bse, res.bse, "bse")
    for name in ("llf", "llnull", "deviance", "aic"):
        _close(getattr(memory, name), getattr(res, name), name)
    pd.testing.assert_frame_equal(memory.pred_table(), res.pred_table())
    fitted = res.fittedvalues.compute().sort_index()
    _close(memory.fittedvalues.to_numpy(), fitted.to_numpy(), "fittedvalues")


def test_multinomial_check_runs_on_a_sample(client):
    res = glmspec.fit("kind ~ x + z", _split(_multinomial_data()), family="multinomial")
    table = glmspec.compare(res)
    assert table.attrs["passed"]
    assert any("random sample" in note for note in table.attrs["notes"])
