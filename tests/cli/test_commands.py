"""glmspec fit's flags, --version, --debug, the printed report path, and glmspec predict from
a report folder (no refit): kept columns, NA rows, types, refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.cli import build_parser
from glmspec.options import FitOptions
from glmspec.spec import Spec, load_spec
from glmspec.spec.format import OPTION_KEYS
from tests.helpers import run_cli

DATASETS = Path(glmspec.datasets.__file__).resolve().parent.parent / "datasets"


def _fit_flags() -> set[str]:
    parser = build_parser()
    fit = parser._subparsers._group_actions[0].choices["fit"]
    return {option for action in fit._actions for option in action.option_strings}


def test_fit_has_a_flag_for_every_option_a_spec_takes():
    flags = _fit_flags()
    for key in OPTION_KEYS:
        assert "--" + key.replace("_", "-") in flags
    # every FitOptions field a spec can set is a flag (formula is the positional argument)
    settable = {f.name for f in dataclasses.fields(FitOptions)} & set(OPTION_KEYS)
    assert {"exposure", "freq_weights", "theta", "var_power", "penalty", "alpha"} <= settable
    assert {"--cov-type", "--groups"} <= flags


def test_fit_flags_reach_the_fit(tmp_path):
    frame = glmspec.datasets.load("restaurant_visitors").assign(
        hours_open=lambda d: 1.0 + (d["hour"] % 3) / 4
    )
    frame.to_csv(tmp_path / "visits.csv", index=False)
    args = ["visitors ~ hour + rain", "--data", "visits.csv", "--family", "negative_binomial"]
    proc = run_cli(
        "fit",
        *args,
        "--exposure",
        "hours_open",
        "--theta",
        "5",
        "--cov-type",
        "cluster",
        "--groups",
        "date",
        "--report",
        "out",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    expected = glmspec.fit(
        "visitors ~ hour + rain",
        frame,
        "negative_binomial",
        exposure="hours_open",
        theta=5.0,
        cov_type="cluster",
        groups="date",
    )
    (model,) = json.loads((tmp_path / "out" / "model.json").read_text())["models"]
    # the coefficients and clustered standard errors of the exposure model
    np.testing.assert_allclose(model["coef"], expected.params, rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(model["cov"])), expected.bse, rtol=1e-10)
    assert model["exposure"] == "hours_open"


def _collinear(tmp_path: Path) -> pd.DataFrame:
    """Counts with a column that is twice another (aliased under R's singular.ok)."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"y": rng.poisson(3.0, 40), "x": rng.normal(size=40)})
    frame["x2"] = 2 * frame["x"]
    frame.to_csv(tmp_path / "collinear.csv", index=False)
    return frame


def test_singular_drop_is_a_spec_key_and_a_fit_flag(tmp_path):
    frame = _collinear(tmp_path)
    assert "singular" in OPTION_KEYS and "--singular" in _fit_flags()
    expected = glmspec.fit("y ~ x + x2", frame, "poisson", singular="drop")
    spec = Spec.from_dict(
        {
            "data": "collinear.csv",
            "defaults": {"family": "poisson", "singular": "drop"},
            "model": [{"name": "m", "formula": "y ~ x + x2"}],
        },
        base_dir=tmp_path,
    )
    (item,) = spec.fit()
    assert list(item.results.aliased) == ["x2"]
    np.testing.assert_allclose(item.results.params, expected.params, rtol=1e-12)
    # statsmodels is fitted on the design without x2 (R's NA, not its pinv answer)
    assert item.check_error is None and item.check.attrs["passed"]
    assert not any("x2" in q for q in item.check["quantity"])
    assert any("x2" in note and "left out" in note for note in item.check.attrs["notes"])
    np.testing.assert_allclose(
        item.check.set_index("quantity").loc["deviance", "statsmodels"],
        expected.deviance,
        rtol=1e-10,
    )
    proc = run_cli(
        "fit", "y ~ x + x2", "--data", "collinear.csv", "--family", "poisson",
        "--singular", "drop", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert any(line.split()[:2] == ["x2", "NA"] for line in proc.stdout.splitlines())
    bad = run_cli("fit", "y ~ x", "--data", "collinear.csv", "--singular", "dorp", cwd=tmp_path)
    assert bad.returncode == 2 and "--singular" in bad.stderr and "'drop'" in bad.stderr


def test_fit_flag_errors_name_the_flag(tmp_path):
    proc = run_cli(
        "fit",
        "visitors ~ hour",
        "--data",
        "restaurant_visitors",
        "--penalty",
        "lasso",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "--penalty" in proc.stderr and "lasso" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version_and_debug_after_the_subcommand(tmp_path):
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"glmspec {glmspec.__version__}"
    proc = run_cli("run", str(tmp_path / "none.toml"), "--debug", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    proc = run_cli("run", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_printed_report_path_is_the_file_written(tmp_path):
    proc = run_cli(
        "run",
        str(DATASETS / "spector.toml"),
        "--out",
        "md",
        "--format",
        "markdown",
        "--no-check",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last == f"report: {Path('md') / 'spector' / 'index.md'}"
    assert (tmp_path / last.removeprefix("report: ")).is_file()


def test_fit_report_refusal_names_the_report_flag(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    proc = run_cli(
        "fit",
        "GRADE ~ GPA",
        "--data",
        "spector",
        "--family",
        "binomial",
        "--report",
        "mine",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "--report" in proc.stderr and "--out" not in proc.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# -- predict from a report ----------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("predict")
    proc = run_cli(
        "run",
        str(DATASETS / "restaurant_visitors.toml"),
        "--out",
        "reports",
        "--no-check",
        "--format",
        "markdown",
        cwd=folder,
    )
    assert proc.returncode == 0, proc.stderr
    new = glmspec.datasets.load("restaurant_visitors").head(30).copy()
    new.loc[3, "rain"] = np.nan
    new.loc[7, "weekday"] = None
    new.to_csv(folder / "new.csv", index=False)
    return folder


def test_predict_from_a_report_equals_the_fitted_model(report):
    out = report / "pred.csv"
    proc = run_cli(
        "predict",
        "reports/restaurant_visitors",
        "--model",
        "weather",
        "--data",
        "new.csv",
        "--out",
        str(out),
        "--se",
        cwd=report,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 row(s) with missing values are NA" in proc.stdout
    pred = pd.read_csv(out)
    new = pd.read_csv(report / "new.csv")
    # the input's columns first, unchanged, then the predictions
    assert list(pred.columns[: new.shape[1]]) == list(new.columns)
    pd.testing.assert_frame_equal(pred[new.columns], new)
    assert {"mean", "linear_predictor", "mean_se", "linear_predictor_se"} <= set(pred.columns)
    complete = new.dropna()
    (item,) = load_spec(DATASETS / "restaurant_visitors.toml").fit(check=False, only=["weather"])
    np.testing.assert_allclose(
        pred.loc[complete.index, "mean"], item.results.predict(complete), rtol=1e-12
    )
    frame = item.results.get_prediction(complete).summary_frame()
    np.testing.assert_allclose(pred.loc[complete.index, "mean_se"], frame["mean_se"], rtol=1e-9)
    # rows with a missing value get NA, as R's na.exclude
    assert pred.loc[[3, 7], ["mean", "linear_predictor"]].isna().all().all()
    assert pred.drop(index=[3, 7])["mean"].notna().all()


def test_predict_keep_and_type(report):
    out = report / "link.csv"
    proc = run_cli(
        "predict",
        "reports/restaurant_visitors",
        "--model",
        "base",
        "--data",
        "new.csv",
        "--out",
        str(out),
        "--keep",
        "date,hour",
        "--type",
        "link",
        cwd=report,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(pd.read_csv(out).columns) == ["date", "hour", "linear_predictor"]


def test_predict_refuses_to_replace_a_file_it_did_not_write(report):
    mine = report / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    args = ["predict", "reports/restaurant_visitors", "--model", "base", "--data", "new.csv"]
    proc = run_cli(*args, "--out", str(mine), cwd=report)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert mine.read_text() == "a,b\n1,2\n"
    proc = run_cli(*args, "--out", "new.csv", "--force", cwd=report)
    assert proc.returncode == 2 and "input" in proc.stderr  # never the input, even forced
    proc = run_cli(*args, "--out", str(mine), "--force", cwd=report)
    assert proc.returncode == 0, proc.stderr
    # an earlier prediction file is replaced without --force
    proc = run_cli(*args, "--out", str(mine), "--type", "response", cwd=report)
    assert proc.returncode == 0, proc.stderr
    assert list(pd.read_csv(mine).columns)[-1] == "mean"


def test_predict_from_a_tampered_report_exits_2_naming_the_problem(report, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    document = json.loads((report / "reports/restaurant_visitors/model.json").read_text())
    document["models"][0]["formula"] = "visitors ~ __import__('os').getcwd()"
    (folder / "model.json").write_text(json.dumps(document))
    proc = run_cli(
        "predict",
        str(folder),
        "--model",
        "base",
        "--data",
        str(report / "new.csv"),
        "--out",
        str(tmp_path / "p.csv"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert "model.json" in line and "allowlist" in line
    assert not (tmp_path / "p.csv").exists()
