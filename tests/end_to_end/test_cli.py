"""End-to-end tests of the ``glmspec`` command line, run as a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.spec import load_spec
from tests.helpers import run_cli

DATASETS = Path(glmspec.datasets.__file__).resolve().parent.parent / "datasets"
#: one bundled spec per family: poisson, binomial 0/1, binomial proportions, multinomial, gaussian
SPECS = ["restaurant_visitors", "spector", "star98", "anes96", "scotland"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        ident = dict(attrs).get("id")
        if ident:
            self.ids.add(ident)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _printed_matches(printed: str, value: float) -> bool:
    """Whether ``printed`` is ``value`` rounded to the digits shown."""
    digits = len(re.sub(r"[^0-9]", "", printed.split("e")[0]).lstrip("0")) or 1
    return np.isclose(float(printed), value, rtol=10.0 ** (1 - digits), atol=0)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    runs = {
        name: run_cli("run", str(DATASETS / f"{name}.toml"), "--out", str(out), cwd=out)
        for name in SPECS
    }
    return out, runs


@pytest.mark.parametrize("name", SPECS)
def test_run_writes_report_with_the_fitted_numbers(reports, name):
    out, runs = reports
    proc = runs[name]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = out / name
    assert f"report: {folder / 'index.html'}" in proc.stdout
    for file in ("index.html", "index.md", "results.json"):
        assert (folder / file).is_file()
    results = json.loads((folder / "results.json").read_text())
    spec = load_spec(DATASETS / f"{name}.toml")
    fitted = spec.fit(check=False)
    parser = _Text()
    parser.feed((folder / "index.html").read_text())
    markdown = (folder / "index.md").read_text()
    assert "comparison" in parser.ids
    for item in fitted:
        res = item.results
        model = results["models"][item.entry.name]
        assert f"model-{item.entry.name}" in parser.ids
        assert model["fit_statistics"]["llf"] == res.llf
        params = res.params if isinstance(res.params, pd.Series) else res.params.T.stack()
        bse = res.bse if isinstance(res.bse, pd.Series) else res.bse.T.stack()
        for key, value in params.items():
            cls, term = key if isinstance(key, tuple) else (None, key)
            entry = model["coefficients"][cls][term] if cls else model["coefficients"][term]
            assert entry["estimate"] == value
            assert entry["bse"] == bse[key]
        # the printed tables show every estimate to their printed precision
        for value in params.to_numpy():
            shown = [c for c in parser.cells if re.fullmatch(r"-?[0-9.]+(e[-+]?\d+)?", c)]
            assert any(_printed_matches(c, value) for c in shown), value
            md_numbers = re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", markdown)
            assert any(_printed_matches(c, value) for c in md_numbers), value


def test_run_reports_failed_check_with_exit_1(tmp_path):
    spec = tmp_path / "nonconv.toml"
    spec.write_text(
        f'data = "{DATASETS / "spector.csv"}"\n[[model]]\nname = "short"\n'
        'formula = "GRADE ~ GPA + TUCE + PSI"\nfamily = "binomial"\nmax_iter = 1\n'
    )
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "NOT converged" in proc.stdout
    assert (tmp_path / "out" / "nonconv" / "index.html").is_file()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('data = "spector.csv"\n[[model]]\nname = "m"\nformula = "GRADE ~ GPAA"\n', "GPAA"),
        (
            'data = "spector.csv"\n[[model]]\nname = "m"\n'
            'formula = "GRADE ~ GPA"\nfamily = "poison"\n',
            "Did you mean 'poisson'",
        ),
        ('data = "missing.csv"\n[[model]]\nname = "m"\nformula = "y ~ x"\n', "missing.csv"),
        (
            'data = "spector.csv"\n[[model]]\nname = "m"\nformula = "GRADE ~ GPA"\nlinkk = "log"\n',
            "linkk",
        ),
    ],
)
def test_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path, content, expected):
    (tmp_path / "spector.csv").write_bytes((DATASETS / "spector.csv").read_bytes())
    spec = tmp_path / "bad.toml"
    spec.write_text(content)
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "bad.toml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_debug_shows_traceback(tmp_path):
    proc = run_cli("--debug", "run", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_fit_prints_summary_and_comparison(tmp_path):
    proc = run_cli(
        "fit",
        "GRADE ~ GPA + TUCE + PSI",
        "--data",
        "spector",
        "--family",
        "binomial",
        "--compare",
        "--report",
        str(tmp_path / "spector_fit"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Generalized linear model: binomial family, logit link" in proc.stdout
    assert "statsmodels check passed" in proc.stdout
    assert (tmp_path / "spector_fit" / "index.html").is_file()


def test_predict_writes_mean_and_linear_predictor(tmp_path):
    new = glmspec.datasets.load("restaurant_visitors").head(25)
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    proc = run_cli(
        "predict",
        str(DATASETS / "restaurant_visitors.toml"),
        "--model",
        "weather",
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(out)
    spec = load_spec(DATASETS / "restaurant_visitors.toml")
    (item,) = spec.fit(check=False, only=["weather"])
    np.testing.assert_allclose(pred["mean"], item.results.predict(new), rtol=1e-12)
    np.testing.assert_allclose(np.exp(pred["linear_predictor"]), pred["mean"], rtol=1e-12)


def test_predict_unseen_level_names_factor_and_level(tmp_path):
    new = glmspec.datasets.load("restaurant_visitors").head(3).assign(weekday="Funday")
    new.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli(
        "predict",
        str(DATASETS / "restaurant_visitors.toml"),
        "--model",
        "base",
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "p.csv"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Funday" in proc.stderr and "weekday" in proc.stderr
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("command", ["run", "fit", "predict", "datasets"])
def test_help_has_an_example(command, tmp_path):
    proc = run_cli(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "example:" in proc.stdout


def test_datasets_lists_bundled_data(tmp_path):
    proc = run_cli("datasets", cwd=tmp_path)
    assert proc.returncode == 0
    for name in glmspec.datasets.names():
        assert name in proc.stdout


def test_predict_interval_adds_the_prediction_frame(tmp_path):
    new = glmspec.datasets.load("restaurant_visitors").head(20)
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    proc = run_cli(
        "predict",
        str(DATASETS / "restaurant_visitors.toml"),
        "--model",
        "weather",
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(out),
        "--interval",
        "0.9",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(out)
    (item,) = load_spec(DATASETS / "restaurant_visitors.toml").fit(check=False, only=["weather"])
    frame = item.results.get_prediction(new).summary_frame(alpha=0.1)
    for column in ("mean_se", "mean_ci_lower", "mean_ci_upper"):
        np.testing.assert_allclose(pred[column], frame[column], rtol=1e-12)
    assert np.all(pred["mean_ci_lower"] < pred["mean"]) and np.all(
        pred["mean"] < pred["mean_ci_upper"]
    )


def test_fit_method_firth_from_the_command_line(tmp_path):
    proc = run_cli(
        "fit", "GRADE ~ GPA + TUCE + PSI", "--data", "spector", "--family", "binomial",
        "--method", "firth", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    firth = glmspec.fit(
        "GRADE ~ GPA + TUCE + PSI", glmspec.datasets.load("spector"), "binomial", method="firth"
    )
    assert f"{firth.params['GPA']:.6g}" in proc.stdout and "Firth" in proc.stdout
    bad = run_cli("fit", "GRADE ~ GPA", "--data", "spector", "--method", "frth", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--method" in bad.stderr and "Did you mean 'firth'" in bad.stderr


def test_command_line_start_up_loads_no_statistics_or_plotting_packages(tmp_path):
    """scipy.stats, statsmodels and matplotlib cost the CLI's start-up about 0.7 s, 1 s and
    0.5 s: they load when a command needs them (the check, the plots, Tukey's adjustment)."""
    code = (
        "import sys, glmspec.cli; "
        "print(sorted(m for m in ('scipy.stats', 'statsmodels', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
