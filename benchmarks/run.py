"""Side-by-side speed benchmarks: glmspec against statsmodels, glum and scikit-learn.

Run ``python benchmarks/run.py`` (full sizes, several minutes) or ``--quick`` (reduced sizes,
under a minute). Prints a table of median wall times and ratios and writes
``benchmarks/RESULTS.md`` (``--out`` to change) with the machine description. Every case
also checks glmspec's coefficients against the reference fit (statsmodels, or glum where
statsmodels is too slow) to 1e-6 relative, measured on the scale ``max(|coef|, SE)``.

Install the competitors with ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import glmspec
import glmspec.linalg as glmspec_linalg
from glmspec.linalg import weighted_gram, worker_count

warnings.filterwarnings("ignore")

#: Sections of RESULTS.md written by other scripts, kept when this one rewrites the file.
KEPT_SECTIONS = ("<!-- dask-scale -->", "<!-- big-run -->")
SLOW_REFERENCE = 10.0  # seconds: a reference this slow is timed once (every one with --quick)


@dataclass
class Case:
    """One benchmark row: timings in seconds per tool, a check and notes."""

    name: str
    times: dict[str, float] = field(default_factory=dict)
    check: str = ""
    notes: list[str] = field(default_factory=list)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls and the last result."""
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def timed_reference(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Like :func:`timed` for a slow reference (statsmodels): one call only when it takes
    ``SLOW_REFERENCE`` seconds or more."""
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        if samples[0] >= SLOW_REFERENCE:
            break
    return statistics.median(samples), result


def agreement(ours: np.ndarray, reference: np.ndarray, se: np.ndarray) -> float:
    """Largest difference relative to ``max(|reference|, se)``."""
    ours, reference, se = (np.asarray(a, dtype=float).ravel() for a in (ours, reference, se))
    return float(np.max(np.abs(ours - reference) / np.maximum(np.abs(reference), se)))


def verdict(diff: float, against: str) -> str:
    return f"{'ok' if diff <= 1e-6 else 'MISMATCH'} vs {against} ({diff:.1e})"


def simulate(family: str, n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    X[:, 0] = 1.0
    beta = rng.normal(0, 0.5, p)
    beta[0] = 0.3
    eta = X @ beta
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "gamma":
        mu = np.exp(eta)
        y = rng.gamma(2.0, mu / 2.0)
    else:
        y = eta + rng.normal(size=n)
    return y, X


def _sm_family(family: str):
    import statsmodels.api as sm

    if family == "gamma":
        return sm.families.Gamma(sm.families.links.Log())
    return {
        "poisson": sm.families.Poisson(),
        "binomial": sm.families.Binomial(),
        "gaussian": sm.families.Gaussian(),
    }[family]


def _glum(family: str, link: str | None = None, **tolerance):
    """glum with its own default tolerances, as users run it (statsmodels checks accuracy)."""
    from glum import GeneralizedLinearRegressor

    return GeneralizedLinearRegressor(
        family=family, link=link or "auto", alpha=0, fit_intercept=False, **tolerance
    )


def case_array(family: str, n: int, p: int, repeat: int, with_sm: bool) -> Case:
    """Array path against glum, scikit-learn, statsmodels and the X'WX floor."""
    import statsmodels.api as sm
    from sklearn.linear_model import GammaRegressor, LogisticRegression, PoissonRegressor

    y, X = simulate(family, n, p)
    glm_family = "gamma" if family == "gamma" else family
    link = "log" if family == "gamma" else None
    case = Case(f"array {family} n={n:.0e} p={p}")
    t, res = timed(lambda: glmspec.fit_arrays(y, X, glm_family, link=link), repeat)
    case.times["glmspec"] = t
    w = np.random.default_rng(1).random(n)
    case.times["one X'WX"], _ = timed(lambda: weighted_gram(X, w), repeat)
    case.notes.append(f"{res.n_iter} iterations")
    t, glum_fit = timed(lambda: _glum(family, link).fit(X, y), repeat)
    case.times["glum"] = t
    options = {"fit_intercept": False, "solver": "newton-cholesky"}
    sklearn_model = {
        "poisson": lambda: PoissonRegressor(alpha=0, **options),
        "gamma": lambda: GammaRegressor(alpha=0, **options),
        "binomial": lambda: LogisticRegression(penalty=None, **options),
    }.get(family)
    if sklearn_model is not None:
        case.times["scikit-learn"], _ = timed(lambda: sklearn_model().fit(X, y), repeat)
    if with_sm:
        t, sm_res = timed_reference(
            lambda: sm.GLM(y, X, family=_sm_family(family)).fit(tol=1e-12), repeat
        )
        case.times["statsmodels"] = t
        case.check = verdict(agreement(res.params, sm_res.params, res.bse), "statsmodels")
    else:
        case.check = verdict(agreement(res.params, glum_fit.coef_, res.bse), "glum")
    return case


def correlated_design(n: int, p: int, rho: float = 0.9, seed: int = 5) -> np.ndarray:
    """Intercept plus ``p - 1`` columns with AR(1) correlation ``rho`` between neighbours."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    X[:, 0] = 1.0
    X[:, 1] = rng.standard_normal(n)
    scale = np.sqrt(1.0 - rho * rho)
    for j in range(2, p):
        X[:, j] = rho * X[:, j - 1] + scale * rng.standard_normal(n)
    X[:, 1:] /= np.sqrt(p)
    return X


def _fit_vs_glum(case: Case, y, X, family: str, repeat: int, offset=None) -> None:
    """Time glmspec, glum (offset passed the same way) and record agreement with glum."""
    t, res = timed(lambda: glmspec.fit_arrays(y, X, family, offset=offset), repeat)
    case.times["glmspec"] = t
    case.notes.append(f"{res.n_iter} iterations")
    case.times["glum"], _ = timed(lambda: _glum(family).fit(X, y, offset=offset), repeat)
    floor = serial_gram_time(X, repeat)
    case.times["one X'WX, 1 thread"] = floor
    cores = worker_count()
    case.notes.append(
        f"fit = {t_ratio(case.times['glmspec'], floor / cores):.1f} x (X'WX on 1 thread / "
        f"{cores} cores), goal <= 2.5"
    )
    tight = _glum(family, gradient_tol=1e-10).fit(X, y, offset=offset)  # accuracy reference
    case.check = verdict(agreement(res.params, tight.coef_, res.bse), "glum (tight)")


def t_ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def serial_gram_time(X: np.ndarray, repeat: int) -> float:
    """Median time of one X'WX on one thread (one worker, BLAS limited to one thread)."""
    from threadpoolctl import threadpool_limits

    w = np.random.default_rng(1).random(X.shape[0])
    saved = glmspec_linalg.worker_count
    glmspec_linalg.worker_count = lambda: 1
    try:
        with threadpool_limits(1, user_api="blas"):
            return timed(lambda: weighted_gram(X, w), repeat)[0]
    finally:
        glmspec_linalg.worker_count = saved


def case_correlated_offset(n: int, p: int, repeat: int) -> Case:
    """Poisson on an AR(1)-correlated design (rho 0.9) with an offset (log exposure)."""
    rng = np.random.default_rng(6)
    X = correlated_design(n, p)
    offset = np.log(rng.uniform(0.5, 2.0, n))
    beta = rng.normal(0, 0.3, p)
    y = rng.poisson(np.exp(X @ beta + offset)).astype(float)
    case = Case(f"array poisson, AR(1) 0.9 design + offset, n={n:.0e} p={p}")
    _fit_vs_glum(case, y, X, "poisson", repeat, offset=offset)
    return case


def case_rare_events(n: int, p: int, repeat: int) -> Case:
    """Logistic regression with about 1 % events."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    X[:, 0] = 1.0
    beta = rng.normal(0, 0.5, p)
    beta[0] = -4.8  # about 1 % events
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta)))).astype(float)
    case = Case(f"array logistic, {y.mean():.1%} events, n={n:.0e} p={p}")
    _fit_vs_glum(case, y, X, "binomial", repeat)
    return case


def case_formula_factors(n: int, repeat: int) -> Case:
    """Formula path against glum's formula interface: 8 numeric columns, a 12- and a
    60-level string factor and a numeric-by-factor interaction (designs built by each tool)."""
    rng = np.random.default_rng(8)
    numeric = [f"x{i}" for i in range(8)]
    data = pd.DataFrame(rng.standard_normal((n, 8)) / 3, columns=numeric)
    month = rng.integers(0, 12, n)
    region = rng.integers(0, 60, n)
    data["month"] = np.array([f"m{i:02d}" for i in range(12)])[month]
    data["region"] = np.array([f"r{i:02d}" for i in range(60)])[region]
    eta = (
        0.3
        + data[numeric].to_numpy() @ rng.normal(0, 0.3, 8)
        + rng.normal(0, 0.2, 12)[month]
        + rng.normal(0, 0.2, 60)[region]
        + data["x0"].to_numpy() * rng.normal(0, 0.1, 12)[month]
    )
    data["y"] = rng.poisson(np.exp(eta))
    formula = "y ~ " + " + ".join(numeric) + " + month + region + x0:month"
    case = Case(f"formula poisson n={n:.0e}, 8 numeric + 12- and 60-level strings + x0:month")
    t, res = timed(lambda: glmspec.fit(formula, data, "poisson"), repeat)
    case.times["glmspec"] = t
    from glum import GeneralizedLinearRegressor

    def glum_fit(**tolerance):
        model = GeneralizedLinearRegressor(
            family="poisson", alpha=0, formula=formula, drop_first=True, **tolerance
        )
        return model.fit(data)

    t, _ = timed(glum_fit, repeat)
    case.times["glum (formula)"] = t
    reference = glum_fit(gradient_tol=1e-10)  # untimed, tight: the accuracy reference
    theirs = dict(zip(reference.feature_names_, reference.coef_, strict=True))
    theirs["Intercept"] = reference.intercept_
    aligned = [theirs.get(_glum_formula_name(k), np.nan) for k in res.params.index]
    case.check = verdict(agreement(res.params, aligned, res.bse), "glum")
    return case


def _glum_formula_name(patsy_name: str) -> str:
    """patsy's ``month[T.m01]`` / ``x0:month[T.m01]`` in glum's (formulaic's) spelling."""
    return patsy_name.replace("[T.", "[")


def case_formula(n: int, repeat: int) -> Case:
    """Formula path: 10 numeric columns, a 7-level string factor and its interaction."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(2)
    data = pd.DataFrame(rng.standard_normal((n, 10)) / 3, columns=[f"x{i}" for i in range(10)])
    data["day"] = rng.choice(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], n)
    eta = 0.5 + data[[f"x{i}" for i in range(10)]].to_numpy() @ rng.normal(0, 0.3, 10)
    data["y"] = rng.poisson(np.exp(eta))
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(10)) + " + day + x0:day"
    case = Case(f"formula poisson n={n:.0e}, 10 numeric + 7-level string + interaction")
    t, res = timed(lambda: glmspec.fit(formula, data, "poisson"), repeat)
    case.times["glmspec"] = t
    import statsmodels.api as sm

    t, sm_res = timed_reference(
        lambda: smf.glm(formula, data, family=sm.families.Poisson()).fit(tol=1e-12), repeat
    )
    case.times["statsmodels"] = t
    case.check = verdict(
        agreement(res.params, sm_res.params[res.params.index], res.bse), "statsmodels"
    )
    return case


def case_many_levels(n: int, levels: int, repeat: int) -> Case:
    """10 numeric columns plus a many-level factor: codes against glum's categorical."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame(rng.standard_normal((n, 10)) / 3, columns=[f"x{i}" for i in range(10)])
    store = rng.integers(0, levels, n)
    data["store"] = pd.Categorical.from_codes(store, [f"s{i:04d}" for i in range(levels)])
    eta = 0.3 + data[[f"x{i}" for i in range(10)]].to_numpy() @ rng.normal(0, 0.3, 10)
    data["y"] = rng.poisson(np.exp(eta + rng.normal(0, 0.2, levels)[store]))
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(10)) + " + store"
    case = Case(f"many levels poisson n={n:.0e}, 10 numeric + {levels}-level factor")
    t, res = timed(lambda: glmspec.fit(formula, data, "poisson"), repeat)
    case.times["glmspec"] = t
    from glum import GeneralizedLinearRegressor

    X = data[[f"x{i}" for i in range(10)] + ["store"]]

    def glum_fit(**tolerance):
        model = GeneralizedLinearRegressor(
            family="poisson", alpha=0, drop_first=True, max_iter=200, **tolerance
        )
        model.fit(X, data["y"])
        model.covariance_matrix(X, data["y"])
        return model

    t, _ = timed(glum_fit, repeat)
    case.times["glum (categorical, with SEs)"] = t
    glum_model = glum_fit(gradient_tol=1e-10)  # untimed, tight: the accuracy reference
    ours = res.params
    theirs = np.concatenate([[glum_model.intercept_], glum_model.coef_])
    names = ["Intercept"] + list(glum_model.feature_names_)
    mapping = {n: v for n, v in zip(names, theirs, strict=True)}
    aligned = [mapping.get(_glum_name(k), np.nan) for k in ours.index]
    case.check = verdict(agreement(ours, aligned, res.bse), "glum")
    return case


def _glum_name(patsy_name: str) -> str:
    """patsy's ``store[T.s0001]`` is glum's ``store[s0001]``."""
    return patsy_name.replace("[T.", "[")


def case_multinomial(n: int, p: int, k: int, repeat: int, with_mnlogit: bool) -> Case:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    X[:, 0] = 1.0
    eta = np.column_stack([np.zeros(n), X @ rng.normal(0, 0.5, (p, k - 1))])
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > prob.cumsum(axis=1)).sum(axis=1)
    case = Case(f"multinomial K={k} n={n:.0e} p={p}")
    t, res = timed(lambda: glmspec.fit_arrays(y, X, "multinomial"), repeat)
    case.times["glmspec (with SEs)"] = t
    case.notes.append(f"{res.n_iter} steps")
    skl = LogisticRegression(fit_intercept=False, C=np.inf, solver="lbfgs", max_iter=1000)
    case.times["scikit-learn lbfgs (no SEs)"], _ = timed(lambda: skl.fit(X, y), repeat)
    if with_mnlogit:
        import statsmodels.api as sm

        t, sm_res = timed_reference(
            lambda: sm.MNLogit(y, X).fit(method="newton", disp=False, tol=1e-12), repeat
        )
        case.times["statsmodels MNLogit"] = t
        case.check = verdict(agreement(res.params, sm_res.params, res.bse), "statsmodels")
    return case


def case_memory(n: int, p: int) -> Case:
    y, X = simulate("poisson", n, p)
    tracemalloc.start()
    res = glmspec.fit_arrays(y, X, "poisson")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    case = Case(f"memory poisson n={n:.0e} p={p}")
    case.notes.append(
        f"peak extra {peak / 2**20:.0f} MiB = {peak / X.nbytes:.3f} x the design "
        f"({X.nbytes / 2**20:.0f} MiB), target <= 0.25"
    )
    case.check = "ok" if peak <= 0.25 * X.nbytes else "OVER TARGET"
    del res
    return case


def case_small(repeat: int) -> Case:
    y, X = simulate("poisson", 10_000, 10)
    glmspec.fit_arrays(y, X, "poisson")
    t, _ = timed(lambda: glmspec.fit_arrays(y, X, "poisson"), max(repeat, 20))
    case = Case("small poisson n=1e4 p=10 (array path)")
    case.times["glmspec"] = t
    import statsmodels.api as sm

    case.times["statsmodels"], _ = timed(
        lambda: sm.GLM(y, X, family=sm.families.Poisson()).fit(), 5
    )
    case.notes.append(f"{t * 1000:.2f} ms per fit, target <= 3 ms")
    return case


def machine() -> list[str]:
    import scipy
    import statsmodels

    lines = [
        f"- CPU: {cpu_model()}; {worker_count()} cores usable by this process",
        f"- python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"pandas {pd.__version__}, statsmodels {statsmodels.__version__}",
        f"- {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
    ]
    try:
        import glum
        import sklearn

        lines.append(f"- glum {glum.__version__}, scikit-learn {sklearn.__version__}")
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                f"- BLAS: {info.get('internal_api')} {info.get('version')} "
                f"({info.get('architecture')}, {info.get('num_threads')} threads)"
            )
    except ImportError:
        pass
    return lines


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(cases: list[Case], quick: bool, busy: bool = False) -> str:
    flags = (" --quick" if quick else "") + (" --busy" if busy else "")
    out = [
        "# glmspec benchmarks",
        "",
        f"Command: `python benchmarks/run.py{flags}`"
        + (" (one core kept busy by another process throughout)" if busy else ""),
        "",
    ]
    out += ["Machine:", "", *machine(), ""]
    out += [
        "Median wall times in seconds; ratio = the tool's time / glmspec's time "
        "(above 1: glmspec is faster). statsmodels is timed once"
        + ("." if quick else f" where one call takes {SLOW_REFERENCE:g} s or more."),
        "",
    ]
    out += ["| case | tool | seconds | ratio | check / notes |", "|---|---|---:|---:|---|"]
    for case in cases:
        base = next((v for k, v in case.times.items() if k.startswith("glmspec")), None)
        notes = "; ".join([case.check, *case.notes]).strip("; ")
        first = True
        for tool, seconds in case.times.items():
            ratio = f"{seconds / base:.2f}" if base else ""
            label, note = (case.name, notes) if first else ("", "")
            out.append(f"| {label} | {tool} | {seconds:.4g} | {ratio} | {note} |")
            first = False
        if not case.times:
            out.append(f"| {case.name} | | | | {notes} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under a minute")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--busy", action="store_true", help="keep one core busy with another process meanwhile"
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument(
        "--big-run", action="store_true", help="then time glmspec run on a 1e6-row spec"
    )
    args = parser.parse_args(argv)
    quick, r = args.quick, args.repeat
    if quick:
        global SLOW_REFERENCE
        SLOW_REFERENCE = 0.0
    big, mid = (100_000, 20_000) if quick else (1_000_000, 100_000)
    cases: list[Case] = []
    steps = [
        lambda: case_array("poisson", big, 100, r, with_sm=True),
        lambda: case_array("binomial", big, 100, r, with_sm=True),
        lambda: case_array("gamma", big, 100, r, with_sm=True),
        lambda: case_array("poisson", mid, 100, r, with_sm=True),
        lambda: case_array("binomial", mid, 100, r, with_sm=True),
        lambda: case_array("gaussian", mid, 100, r, with_sm=True),
        lambda: case_correlated_offset(big, 61, r),
        lambda: case_rare_events(big, 41, r),
        lambda: case_formula(big, r),
        lambda: case_formula_factors(big // 2, r),
        lambda: case_many_levels(big, 500, r),
        lambda: case_multinomial(big, 10, 5, r, with_mnlogit=False),
        lambda: case_multinomial(mid, 100, 5, r, with_mnlogit=True),
        lambda: case_memory(big, 100),
        lambda: case_small(r),
    ]
    # the contention case: another process spinning on one core for the whole run
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        for step in steps:
            try:
                case = step()
            except Exception as exc:  # noqa: BLE001 - one failing competitor must not stop the run
                case = Case(f"(failed) {getattr(step, '__name__', 'case')}", check=f"error: {exc}")
            cases.append(case)
            print(
                "\n".join(
                    render([case], quick, args.busy).splitlines()[-max(len(case.times), 1) :]
                ),
                flush=True,
            )
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait()
    text = render(cases, quick, args.busy)
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    kept = [old.index(mark) for mark in KEPT_SECTIONS if mark in old]
    if kept:  # the sections of benchmarks/dask_scale.py and big_run.py: measured separately
        text += "\n" + old[min(kept) :]
    out.write_text(text)
    print(text)
    if args.big_run:  # glmspec run on a 1e6-row spec (1e5 with --quick): its own section
        rows = ["--rows", "100000"] if quick else []
        big_run = [sys.executable, str(Path(__file__).with_name("big_run.py")), *rows]
        subprocess.run([*big_run, "--results", str(out)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
