"""Formulas from spec files and the command line are data, not code (issue 12).

Code in a formula is refused before anything runs (``glmspec run``, ``fit``, ``predict``),
allowlisted formulas give the same design and numbers as patsy's Python evaluation, names that
are Python builtins or keywords get clear errors, and the explicit opt-ins (spec key, CLI flag,
``formula_mode``) restore Python.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import pytest

import glmspec
from glmspec.design.formula_check import safe_eval_env
from glmspec.errors import FormulaError, SpecError
from glmspec.spec import Spec
from tests.helpers import run_cli


def _touch(path: str) -> str:
    """A formula term that creates ``path`` when evaluated as Python and adds 0 to ``x``."""
    return f'np.log(x + 0*len(str(__import__("pathlib").Path(r"{path}").touch())))'


def _data(n: int = 80, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 3, n)
    g = rng.choice(["a", "b", "c"], n)
    frame = pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n),
            "g": g,
            "weird name": rng.normal(size=n),
            "Type": rng.normal(size=n),
            "Max": rng.normal(size=n),
            "Sum": rng.normal(size=n),
            "Round": rng.normal(size=n),
            "ID": rng.normal(size=n),
            "class": rng.normal(size=n),
        }
    )
    frame["y"] = 1 + 0.5 * np.log(x) + (g == "b") + rng.normal(scale=0.3, size=n)
    frame["count"] = rng.poisson(np.exp(0.3 + 0.4 * x))
    frame["succ"] = rng.binomial(10, 1 / (1 + np.exp(1 - x)))
    frame["fail"] = 10 - frame["succ"]
    return frame


def _write_spec(folder: Path, formula: str, extra: str = "") -> Path:
    _data().to_csv(folder / "data.csv", index=False)
    spec = folder / "analysis.toml"
    spec.write_text(
        f"{extra}\ndata = 'data.csv'\n[report]\ndir = 'out'\n"
        f"[[model]]\nname = 'm'\nformula = '''{formula}'''\n"
    )
    return spec


def _assert_refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)


# --- code in formulas from the command line and spec files ------------------------------------


def test_run_refuses_code_in_a_spec_formula_and_writes_nothing(tmp_path):
    spec = _write_spec(tmp_path, f"y ~ {_touch('PWNED')}")
    proc = run_cli("run", str(spec), cwd=tmp_path)
    _assert_refused(proc, "__import__", "python_formulas = true")
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "out").exists()


def test_fit_refuses_code_in_a_command_line_formula(tmp_path):
    _data().to_csv(tmp_path / "data.csv", index=False)
    proc = run_cli("fit", f"y ~ {_touch('PWNED')}", "--data", "data.csv", cwd=tmp_path)
    _assert_refused(proc, "__import__", "--allow-python-formulas")
    assert not (tmp_path / "PWNED").exists()


def test_predict_refuses_code_in_a_spec_formula(tmp_path):
    spec = _write_spec(tmp_path, f"y ~ z + {_touch('PWNED')}")
    args = ["predict", str(spec), "--model", "m", "--data", "data.csv", "--out", "pred.csv"]
    proc = run_cli(*args, cwd=tmp_path)
    _assert_refused(proc, "__import__")
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "pred.csv").exists()


def test_cli_flag_restores_python_formulas(tmp_path):
    _data().to_csv(tmp_path / "data.csv", index=False)
    args = ["fit", f"y ~ {_touch('RAN')}", "--data", "data.csv", "--allow-python-formulas"]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "RAN").exists()


def test_spec_key_restores_python_formulas(tmp_path):
    marker = tmp_path / "RAN"
    _data().to_csv(tmp_path / "data.csv", index=False)
    model = {"name": "m", "formula": f"y ~ {_touch(str(marker))}"}
    mapping = {"data": "data.csv", "model": [model]}
    with pytest.raises(SpecError, match="__import__"):
        Spec.from_dict(mapping, base_dir=tmp_path)
    assert not marker.exists()
    spec = Spec.from_dict({**mapping, "python_formulas": True}, base_dir=tmp_path)
    (item,) = spec.fit(check=False)
    assert item.error is None and marker.exists()
    with pytest.raises(SpecError, match="python_formulas.*true or false"):
        Spec.from_dict({**mapping, "python_formulas": "yes"}, base_dir=tmp_path)


# --- what safe mode allows: the same design and numbers as patsy's Python evaluation ------------

ALLOWED = [
    ("y ~ np.log(x)", "y ~ np.log(x)"),
    ("y ~ numpy.log(x)", "y ~ np.log(x)"),
    ("y ~ log(x)", "y ~ np.log(x)"),
    ("y ~ sqrt(x) + exp(z) + abs(z) + log1p(x) + power(x, 3)", None),
    ("y ~ I(x**2) + I(-x / 2) + I((x > 2) & (z < 0))", None),
    ('y ~ C(g, Treatment(reference="b"))', None),
    ("y ~ C(g, Helmert) + C(g, levels=['c', 'b', 'a']):x", None),
    ("y ~ center(x) + standardize(z)", None),
    ("y ~ bs(x, df=4)", None),
    ("y ~ cr(x, df=4, constraints='center')", None),
    ('y ~ Q("weird name")', None),
    ("y ~ factor(g)", "y ~ C(g)"),
    ('y ~ I(g == "b")', None),
]


@pytest.mark.parametrize("formula, reference", ALLOWED)
def test_safe_mode_fits_allowlisted_formulas_as_patsy_does(formula, reference):
    data = _data()
    safe = glmspec.fit(formula, data, formula_mode="safe")
    python = glmspec.fit(reference or formula, data)
    # the same patsy machinery on the same data: the design is identical, bit for bit
    np.testing.assert_array_equal(np.asarray(safe.design.X), np.asarray(python.design.X))
    # same arrays into the same solver; the bound only covers BLAS threading reorderings
    np.testing.assert_allclose(safe.params.to_numpy(), python.params.to_numpy(), rtol=1e-10)
    if "==" not in formula:  # predict() of I(text == "level") fails in both modes (main too)
        new = data.sample(10, random_state=0)
        np.testing.assert_allclose(safe.predict(new), python.predict(new), rtol=1e-10)


def test_safe_mode_binomial_counts():
    data = _data()
    safe = glmspec.fit("cbind(succ, fail) ~ log(x)", data, family="binomial", formula_mode="safe")
    python = glmspec.fit("succ + fail ~ np.log(x)", data, family="binomial")
    np.testing.assert_array_equal(safe.design.y, python.design.y)
    np.testing.assert_allclose(safe.params.to_numpy(), python.params.to_numpy(), rtol=1e-10)


def test_spec_fits_allowlisted_formula_as_the_api(tmp_path):
    data = _data()
    data.to_csv(tmp_path / "data.csv", index=False)
    model = {"name": "m", "formula": "count ~ log(x) + factor(g)", "family": "poisson"}
    spec = Spec.from_dict({"data": "data.csv", "model": [model]}, base_dir=tmp_path)
    (item,) = spec.fit(check=False)
    assert item.error is None
    frame = spec.load_data(spec.models[0])
    ref = glmspec.fit("count ~ np.log(x) + C(g)", frame, family="poisson")
    np.testing.assert_allclose(item.results.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)


# --- what safe mode refuses, naming the term --------------------------------------------------

REFUSED = [
    ('np.log(x + 0*__import__("os").system("echo hi"))', "__import__"),
    ("x.__class__", "x.__class__"),
    ("I(np.log.__globals__)", "__globals__"),
    ("np.load('f')", "np.load"),
    ("x[0]", "subscript 'x[0]'"),
    ("I(9**9**9)", "power of constants"),
    ('I("a")', "the text 'a'"),
    ("round(x)", "'round' is not an allowed function"),
    ("getattr(x, 'real')", "'getattr' is not an allowed function"),
    ("I([v for v in x])", "ListComp"),
    ("C(g, lambda: 1)", "lambda"),
    ("__builtins__", "reserved"),
    ("offset(np.log(x))", "exposure='x'"),
    ("Treatment(x)", "only as the contrast"),
    ("bs(x, df=z)", "not a literal"),
]


@pytest.mark.parametrize("term, fragment", REFUSED)
def test_safe_mode_refuses_code_naming_the_term(term, fragment):
    with pytest.raises(FormulaError) as info:
        glmspec.fit(f"y ~ {term}", _data(), formula_mode="safe")
    message = str(info.value)
    assert fragment in message and "formula_mode='python'" in message


def test_api_default_keeps_patsy_semantics(tmp_path):
    marker = tmp_path / "RAN"
    data = _data()
    res = glmspec.fit(f"y ~ {_touch(str(marker))}", data)  # Python, as patsy evaluates it
    assert marker.exists()
    np.testing.assert_allclose(
        res.params.to_numpy(), glmspec.fit("y ~ np.log(x)", data).params.to_numpy(), rtol=1e-10
    )
    marker.unlink()
    with pytest.raises(FormulaError, match="__import__"):
        glmspec.fit(f"y ~ {_touch(str(marker))}", data, formula_mode="safe")
    assert not marker.exists()
    with pytest.raises(FormulaError, match="formula_mode must be"):
        glmspec.fit("y ~ x", data, formula_mode="unsafe")


def test_safe_environment_has_no_builtins():
    """Even a term the check let through could not reach ``__import__`` or any builtin."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    env = safe_eval_env()
    for reached in (env, env.with_outer_namespace({}), env.subset(["log"])):
        with pytest.raises(NameError):
            reached.eval('__import__("os")', inner_namespace={})
        with pytest.raises(NameError):
            reached.eval("len([1])", inner_namespace={})
    # through patsy's own evaluation (which subsets the environment while learning a term)
    with pytest.raises(patsy.PatsyError, match="len"):
        patsy.dmatrix("I(x + 0 * len([1]))", frame, eval_env=env)
    works = patsy.dmatrix("I(x + 0 * len([1]))", frame, eval_env=0)
    assert works.shape == (3, 2)
    np.testing.assert_array_equal(
        np.asarray(patsy.dmatrix("log(x)", frame, eval_env=env))[:, 1], np.log(frame["x"])
    )


# --- names that are Python builtins or keywords ------------------------------------------------


@pytest.mark.parametrize(
    "name, column",
    [("type", "Type"), ("max", "Max"), ("sum", "Sum"), ("round", "Round"), ("id", "ID")],
)
@pytest.mark.parametrize("mode", ["python", "safe"])
def test_builtin_named_term_is_an_error_with_did_you_mean(name, column, mode):
    with pytest.raises(FormulaError, match=f"'{name}'.*Did you mean '{column}'"):
        glmspec.fit(f"y ~ x + {name}", _data(), formula_mode=mode)


def test_builtin_named_term_in_a_spec_is_a_spec_error(tmp_path):
    _data().to_csv(tmp_path / "data.csv", index=False)
    model = {"name": "m", "formula": "y ~ x + type"}
    with pytest.raises(SpecError, match="column 'type' is not in data.csv. Did you mean 'Type'"):
        Spec.from_dict({"data": "data.csv", "model": [model]}, base_dir=tmp_path)


def test_builtin_called_as_a_function_keeps_working_in_python_mode():
    data = _data()
    res = glmspec.fit("y ~ abs(z) + round(x)", data)
    assert list(res.params.index) == ["Intercept", "abs(z)", "round(x)"]


def test_keyword_column_suggests_q_in_every_mode():
    data = _data()
    for mode in ("python", "safe"):
        with pytest.raises(FormulaError, match=r"'class' is a Python keyword.*Q\(\"class\"\)"):
            glmspec.fit("y ~ x + class", data, formula_mode=mode)
        res = glmspec.fit('y ~ x + Q("class")', data, formula_mode=mode)
        assert 'Q("class")' in res.params.index


def test_keyword_column_is_a_spec_validation_error_and_nothing_runs(tmp_path):
    _data().to_csv(tmp_path / "data.csv", index=False)
    models = [
        {"name": "ok", "formula": "y ~ x"},
        {"name": "kw", "formula": "y ~ x + class"},
    ]
    with pytest.raises(SpecError) as info:
        Spec.from_dict({"data": "data.csv", "model": models}, base_dir=tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith("model #2 'kw', key 'formula'") and 'Q("class")' in problem
    spec = _write_spec(tmp_path, "y ~ x + class")
    proc = run_cli("run", str(spec), cwd=tmp_path)
    _assert_refused(proc, 'Q("class")')
    assert not (tmp_path / "out").exists()


# --- the Dask engine uses the same mode --------------------------------------------------------


def test_dask_engine_respects_safe_mode(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    dask = pytest.importorskip("dask")
    data = _data()
    ddf = dd.from_pandas(data[["y", "x", "g"]], npartitions=2)
    marker = tmp_path / "RAN"
    with dask.config.set(scheduler="synchronous"):
        with pytest.raises(FormulaError, match="__import__"):
            glmspec.fit(f"y ~ {_touch(str(marker))}", ddf, formula_mode="safe")
        assert not marker.exists()
        res = glmspec.fit("y ~ log(x) + factor(g)", ddf, formula_mode="safe")
    ref = glmspec.fit("y ~ np.log(x) + C(g)", data)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
