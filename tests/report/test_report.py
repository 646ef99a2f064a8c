"""Reports: HTML/Markdown/JSON content, exact numbers, model comparison and atomic writes."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import glmspec
import glmspec.report.plots as report_plots
from glmspec.errors import GLMSpecError, SpecificationError
from glmspec.report import build_tables, write_report
from glmspec.spec import FittedModel, ModelEntry, Spec

BASE = "visitors ~ hour + C(weekday)"
FULL = BASE + " + rain + temperature + event"
QUAD = FULL + " + I(hour**2)"
SUBSECTIONS = [
    "Coefficients",
    "Fit statistics",
    "Check against statsmodels",
    "Conventions",
    "Plots",
]


# ----------------------------------------------------------------------------- helpers


def fit_entry(entry: ModelEntry, data: pd.DataFrame, tol: float = 1e-6, check=True):
    """What the spec runner does: fit, record warnings and errors, cross-check."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = glmspec.fit(
                entry.formula,
                data,
                family=entry.family,
                link=entry.link,
                weights=entry.weights,
                offset=entry.offset,
                missing=entry.missing,
                max_iter=entry.max_iter,
                tol=entry.tol,
            )
        except glmspec.errors.GLMSpecError as exc:
            return FittedModel(entry, error=str(exc), data_rows=len(data))
    fm = FittedModel(entry, res, warnings=[str(w.message) for w in caught], data_rows=len(data))
    if check:
        fm.check = glmspec.compare(res, tol=tol)
    return fm


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children: list[Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts + [c.text for c in self.children]).strip()

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag=None, **attrs):
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


class Tree(HTMLParser):
    """A minimal DOM from the standard library's html.parser."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "area", "base", "col", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", [])
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.parts.append(data)


def assert_printed(text: str, value: float) -> None:
    """``text`` is ``value`` rounded to the decimals (fixed) or digits (scientific) it shows."""
    text = text.strip().rstrip("*").strip().replace("&lt;", "<")
    if text.replace(" ", "") == "<2e-16":  # R's format.pval below machine epsilon
        assert value < np.finfo(float).eps
        return
    shown = float(text)
    if "e" in text:
        mantissa = text.lstrip("+-").split("e")[0].replace(".", "").lstrip("0")
        digits = max(len(mantissa), 1)
        tol = 0.5 * 10 ** (math.floor(math.log10(abs(shown))) - digits + 1)
    else:
        decimals = len(text.split(".")[1]) if "." in text else 0
        tol = 0.5 * 10**-decimals
    assert abs(shown - value) <= tol * (1 + 1e-9), (text, value)


def coefficient_rows(res) -> dict[tuple[str | None, str], dict[str, float]]:
    ci = res.conf_int()
    if isinstance(res.params, pd.DataFrame):
        out = {}
        for cls in res.params.columns:
            for term in res.params.index:
                out[(str(cls), term)] = {
                    "estimate": res.params.loc[term, cls],
                    "bse": res.bse.loc[term, cls],
                    "statistic": res.tvalues.loc[term, cls],
                    "pvalue": res.pvalues.loc[term, cls],
                    "lower": ci.loc[(cls, term), 0],
                    "upper": ci.loc[(cls, term), 1],
                }
        return out
    return {
        (None, term): {
            "estimate": res.params[term],
            "bse": res.bse[term],
            "statistic": res.tvalues[term],
            "pvalue": res.pvalues[term],
            "lower": ci.loc[term, 0],
            "upper": ci.loc[term, 1],
        }
        for term in res.params.index
    }


def markdown_section(md: str, heading: str, level: int) -> str:
    marks = "#" * level
    pattern = rf"^{marks} {re.escape(heading)}\n(.*?)(?=^#{{1,{level}}} |\Z)"
    found = re.search(pattern, md, flags=re.M | re.S)
    assert found, heading
    return found.group(1)


def markdown_table(section: str) -> list[list[str]]:
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [
        [c.strip().replace(r"\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in lines
    ]
    return [rows[0]] + rows[2:]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def restaurant():
    data = glmspec.datasets.load("restaurant_visitors")
    entries = (
        ModelEntry("base", BASE, "poisson"),
        ModelEntry("full", FULL, "poisson"),
        ModelEntry("quad", QUAD, "poisson"),
    )
    spec = Spec("Restaurant visitors", entries)
    return spec, [fit_entry(e, data) for e in entries]


@pytest.fixture(scope="module")
def restaurant_report(restaurant, tmp_path_factory):
    spec, fitted = restaurant
    folder = write_report(spec, fitted, out_dir=tmp_path_factory.mktemp("reports"))
    return folder, json.loads((folder / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def grades_report(tmp_path_factory):
    entry = ModelEntry("grade", "GRADE ~ GPA + TUCE + PSI", "binomial")
    fm = fit_entry(entry, glmspec.datasets.load("spector"))
    spec = Spec("Grades", (entry,))
    return write_report(spec, [fm], out_dir=tmp_path_factory.mktemp("reports")), fm


@pytest.fixture(scope="module")
def party_report(tmp_path_factory):
    entry = ModelEntry("pid", "PID ~ logpopul + selfLR + age + educ + income", "multinomial")
    fm = fit_entry(entry, glmspec.datasets.load("anes96"))
    spec = Spec("Party identification", (entry,))
    return write_report(spec, [fm], out_dir=tmp_path_factory.mktemp("reports")), fm


# ----------------------------------------------------------------------------- structure


def test_writes_every_file(restaurant, restaurant_report):
    folder, _ = restaurant_report
    assert folder.name == "restaurant_visitors"
    files = {p.name for p in folder.iterdir()}
    assert files == {
        ".glmspec-report",
        "index.html",
        "index.md",
        "results.json",
        "model.json",  # the models as data, for glmspec predict
        "plots",
        "regression_table.tex",  # two or more models
    }
    for name in ("base", "full", "quad"):
        for key in ("forest", "observed_fitted", "residuals_fitted", "qq"):
            png = (folder / "plots" / f"{name}_{key}.png").read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_html_sections_and_banner(restaurant_report):
    folder, _ = restaurant_report
    tree = Tree((folder / "index.html").read_text(encoding="utf-8")).root
    banner = tree.find_all(id="banner")[0]
    assert "3 models" in banner.text and "3 converged" in banner.text
    assert "3 passed" in banner.text and "0 failed" in banner.text
    comparison = tree.find_all("section", id="comparison")[0]
    assert comparison.find_all("h2")[0].text == "Model comparison"
    for name in ("base", "full", "quad"):
        section = tree.find_all("section", id=f"model-{name}")[0]
        assert section.find_all("h2")[0].text == name
        headings = [h.text for h in section.find_all("h3")]
        for heading in SUBSECTIONS:
            assert heading in headings
        # base leaves out covariates of the simulated visits: overdispersed for a Poisson
        # (Pearson chi2/df 2.7), its only warning; full and quad are the true model
        boxes = section.find_all("div", id=f"model-{name}-warnings")
        if name == "base":
            assert boxes[0].text.count("overdispersion:") == 1
            assert "negative_binomial" in boxes[0].text
        else:
            assert "Warnings" not in headings and not boxes


def test_html_is_self_contained(restaurant_report, party_report):
    for folder in (restaurant_report[0], party_report[0]):
        text = (folder / "index.html").read_text(encoding="utf-8")
        tree = Tree(text).root
        assert not tree.find_all("script") and not tree.find_all("link")
        images = tree.find_all("img")
        assert images
        for node in tree.iter():
            for attr in ("src", "href"):
                value = node.attrs.get(attr)
                if value is not None:
                    assert not re.match(r"(?i)(https?:)?//", value), value
        for img in images:
            assert img.attrs["src"].startswith("data:image/png;base64,")
            png = base64.b64decode(img.attrs["src"].split(",", 1)[1])
            assert png.startswith(b"\x89PNG")
        assert "http://" not in text and "https://" not in text


def test_json_numbers_are_exact(restaurant, restaurant_report):
    _, fitted = restaurant
    _, doc = restaurant_report
    for fm in fitted:
        res, model = fm.results, doc["models"][fm.entry.name]
        assert model["status"] == "ok" and model["error"] is None
        over = res.summary().info["overdispersion"]["overdispersed"]
        assert [w.split(":")[0] for w in model["warnings"]] == ["overdispersion"] * over
        assert model["entry"]["formula"] == fm.entry.formula
        assert model["entry"]["max_iter"] == fm.entry.max_iter
        for term, row in model["coefficients"].items():
            assert row["estimate"] == res.params[term]
            assert row["bse"] == res.bse[term]
            assert row["statistic"] == res.tvalues[term]
            assert row["pvalue"] == res.pvalues[term]
            assert row["lower"] == res.conf_int().loc[term, 0]
            assert row["exp_estimate"] == np.exp(res.params[term])
        assert list(model["coefficients"]) == list(res.params.index)
        stats_ = model["fit_statistics"]
        assert stats_["llf"] == res.llf and stats_["deviance"] == res.deviance
        assert stats_["aic"] == res.aic and stats_["bic"] == res.bic
        assert stats_["null_deviance"] == res.null_deviance
        assert stats_["pearson_chi2"] == res.pearson_chi2
        assert stats_["pseudo_rsquared_mcf"] == res.pseudo_rsquared("mcf")
        info = model["info"]
        assert info["nobs"] == 3000 and info["n_dropped"] == 0 and info["data_rows"] == 3000
        assert info["converged"] is True and info["n_iter"] == res.n_iter
        assert info["factor_levels"]["C(weekday)"][0] == "Fri"
        check = model["check"]
        assert check["status"] == "passed" and check["tolerance"] == 1e-6
        assert len(check["rows"]) == len(fm.check)
        assert [r["glmspec"] for r in check["rows"]] == list(fm.check["glmspec"])
        assert {p["file"] for p in model["plots"]} == {
            f"plots/{fm.entry.name}_{k}.png"
            for k in ("forest", "observed_fitted", "residuals_fitted", "qq")
        }


def test_json_is_strict_json(restaurant_report):
    folder, _ = restaurant_report
    text = (folder / "results.json").read_text(encoding="utf-8")

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    json.loads(text, parse_constant=refuse)


def test_html_coefficients_to_printed_precision(restaurant, restaurant_report, party_report):
    _, fitted = restaurant
    cases = [(restaurant_report[0], fm) for fm in fitted] + [party_report]
    for folder, fm in cases:
        tree = Tree((folder / "index.html").read_text(encoding="utf-8")).root
        table = tree.find_all("table", **{"class": "coefficients", "data_model": fm.entry.name})[0]
        expected = coefficient_rows(fm.results)
        rows = table.find_all("tr", **{})
        rows = [r for r in rows if "data-term" in r.attrs]
        assert len(rows) == len(expected)
        for row in rows:
            truth = expected[(row.attrs.get("data-class"), row.attrs["data-term"])]
            checked = 0
            for cell in row.find_all("td"):
                col = cell.attrs.get("data-col")
                if col in truth:
                    assert_printed(cell.text, truth[col])
                elif col in ("exp_estimate", "exp_lower", "exp_upper"):
                    assert_printed(cell.text, math.exp(truth[col.removeprefix("exp_")]))
                else:
                    continue
                checked += 1
            assert checked == 9
        fit = tree.find_all("section", id=f"model-{fm.entry.name}")[0]
        llf_row = fit.find_all("tr", data_key="llf")[0]
        assert_printed(llf_row.find_all("td")[0].text, fm.results.llf)


def test_markdown_coefficients_to_printed_precision(restaurant, restaurant_report, party_report):
    _, fitted = restaurant
    cases = [(restaurant_report[0], fm) for fm in fitted] + [party_report]
    for folder, fm in cases:
        md = (folder / "index.md").read_text(encoding="utf-8")
        section = markdown_section(md, fm.entry.name, 2)
        for heading in SUBSECTIONS:
            assert f"\n### {heading}\n" in section
        table = markdown_table(markdown_section(section, "Coefficients", 3))
        header, body = table[0], table[1:]
        multinomial = header[0] == "class"
        offset = 1 if multinomial else 0
        expected = coefficient_rows(fm.results)
        assert len(body) == len(expected)
        columns = ["estimate", "bse", "statistic", "pvalue", "lower", "upper"]
        for row in body:
            key = (row[0] if multinomial else None, row[offset].strip("`"))
            truth = expected[key]
            for j, col in enumerate(columns):
                assert_printed(row[offset + 1 + j], truth[col])
            for j, col in enumerate(["estimate", "lower", "upper"]):
                assert_printed(row[offset + 7 + j], math.exp(truth[col]))
        for name in ("forest", "qq") if not multinomial else ("confusion", "coef_by_class"):
            assert f"](plots/{fm.entry.name}_{name}.png)" in section
            assert (folder / "plots" / f"{fm.entry.name}_{name}.png").is_file()


def test_model_comparison_lr_tests(restaurant, restaurant_report):
    _, fitted = restaurant
    folder, doc = restaurant_report
    res = {fm.entry.name: fm.results for fm in fitted}
    tests = {(t["small"], t["big"]): t for t in doc["comparison"]["tests"]}
    assert set(tests) == {("base", "full"), ("base", "quad"), ("full", "quad")}
    tree = Tree((folder / "index.html").read_text(encoding="utf-8")).root
    for (small, big), row in tests.items():
        a, b = res[small], res[big]
        df = len(b.params) - len(a.params)
        statistic = 2 * (b.llf - a.llf)
        pvalue = stats.chi2.sf(statistic, df)
        assert row["lr_df"] == df == row["df"]
        assert row["lr_statistic"] == pytest.approx(statistic, rel=1e-12)
        assert row["lr_pvalue"] == pytest.approx(pvalue, rel=1e-9, abs=1e-300)
        # analysis of deviance, R's anova(small, big, test = "Chisq")
        assert row["deviance"] == pytest.approx(a.deviance - b.deviance, rel=1e-12)
        assert row["pvalue"] == pytest.approx(stats.chi2.sf(a.deviance - b.deviance, df), rel=1e-9)
        html_row = tree.find_all("tr", data_small=small, data_big=big)[0]
        cells = {c.attrs.get("data-col"): c.text for c in html_row.find_all("td")}
        assert_printed(cells["lr_statistic"], statistic)
        assert_printed(cells["lr_pvalue"], pvalue)
        assert_printed(cells["pvalue"], pvalue)
    assert 0.01 < tests[("full", "quad")]["lr_pvalue"] < 0.5  # a non-trivial p-value
    models = {m["name"]: m for m in doc["comparison"]["models"]}
    assert models["full"]["df"] == len(res["full"].params)
    assert models["quad"]["aic"] == res["quad"].aic and models["base"]["llf"] == res["base"].llf


def test_ratio_labels(restaurant_report, grades_report, party_report):
    poisson = (restaurant_report[0] / "index.html").read_text(encoding="utf-8")
    assert "rate ratio" in poisson and "odds ratio" not in poisson
    folder, fm = grades_report
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "odds ratio" in html and "rate ratio" not in html
    assert "odds ratio" in (folder / "index.md").read_text(encoding="utf-8")
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    model = doc["models"]["grade"]
    assert model["coefficient_labels"]["ratio"] == "odds ratio"
    assert model["coefficients"]["PSI"]["exp_estimate"] == np.exp(fm.results.params["PSI"])
    folder, fm = party_report
    assert "relative risk ratio" in (folder / "index.html").read_text(encoding="utf-8")
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    model = doc["models"]["pid"]
    res = fm.results
    for cls in res.params.columns:
        for term in res.params.index:
            row = model["coefficients"][cls][term]
            assert row["estimate"] == res.params.loc[term, cls]
            assert row["bse"] == res.bse.loc[term, cls]
    assert model["fit_statistics"]["llf"] == res.llf
    assert "pearson_chi2" not in model["fit_statistics"]
    assert model["info"]["classes"][0] == "0"
    assert any("reference class '0'" in c["text"] for c in model["conventions"])


def test_warnings_and_errors_are_prominent(tmp_path):
    data = glmspec.datasets.load("restaurant_visitors")
    entries = (
        ModelEntry("stuck", FULL, "poisson", max_iter=1),
        ModelEntry("broken", "visitors ~ no_such_column", "poisson"),
    )
    spec = Spec("Trouble", entries)
    fitted = [fit_entry(e, data) for e in entries]
    assert fitted[1].error is not None
    folder = write_report(spec, fitted, out_dir=tmp_path)
    tree = Tree((folder / "index.html").read_text(encoding="utf-8")).root
    banner = tree.find_all(id="banner")[0]
    assert "bad" in banner.attrs["class"]
    assert "did not converge" in banner.text and "no_such_column" in banner.text
    section = tree.find_all("section", id="model-stuck")[0]
    box = section.find_all("div", id="model-stuck-warnings")[0]
    assert "warnings" in box.attrs["class"]
    assert box.find_all("h3")[0].text == "Warnings"
    assert "did not converge" in box.text
    headings = [h.text for h in section.find_all("h3")]
    assert headings.index("Warnings") < headings.index("Coefficients")
    broken = tree.find_all("section", id="model-broken")[0]
    assert "no_such_column" in broken.find_all("div", id="model-broken-error")[0].text
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert doc["models"]["stuck"]["status"] == "not converged"
    assert any("did not converge" in w for w in doc["models"]["stuck"]["warnings"])
    assert doc["models"]["broken"]["status"] == "failed"
    assert doc["banner"]["n_converged"] == 0 and doc["banner"]["n_failed"] == 1
    md = (folder / "index.md").read_text(encoding="utf-8")
    assert "**Warning:**" in markdown_section(md, "stuck", 2)


def test_check_disabled_and_estimated_dispersion(tmp_path):
    data = glmspec.datasets.load("spector")
    entries = (
        ModelEntry("small", "GRADE ~ GPA", "gaussian"),
        ModelEntry("big", "GRADE ~ GPA + PSI", "gaussian"),
    )
    spec = Spec("Linear", entries, check_against=None, report_formats=("html",))
    fitted = [fit_entry(e, data, check=False) for e in entries]
    folder = write_report(spec, fitted, out_dir=tmp_path)
    files = {p.name for p in folder.iterdir()}
    assert files == {
        ".glmspec-report",
        "index.html",
        "results.json",
        "model.json",
        "plots",
        "regression_table.tex",  # two or more models
    }
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "check disabled" in html and "t value" in html and "Pr(&gt;F)" in html
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    (test,) = doc["comparison"]["tests"]
    small, big = fitted[0].results, fitted[1].results
    statistic = (small.deviance - big.deviance) / big.scale
    assert test["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert test["pvalue"] == pytest.approx(stats.chi2.sf(statistic, 1), rel=1e-9)
    assert test["f_pvalue"] == pytest.approx(stats.f.sf(statistic, 1, big.df_resid), rel=1e-9)
    assert doc["models"]["big"]["check"]["status"] == "disabled"
    assert doc["comparison"]["models"][1]["df"] == 4  # 3 coefficients + the dispersion


def test_formats_option(restaurant, tmp_path):
    spec, fitted = restaurant
    folder = write_report(spec, fitted[:1], out_dir=tmp_path, formats=["json"])
    assert sorted(p.name for p in folder.iterdir()) == [
        ".glmspec-report",
        "model.json",
        "results.json",
    ]
    with pytest.raises(SpecificationError, match="unknown report format"):
        write_report(spec, fitted[:1], out_dir=tmp_path, formats=["pdf"])


def test_build_tables_is_plain_data(restaurant):
    spec, fitted = restaurant
    tables = build_tables(spec, fitted)
    json.dumps(tables)  # plain dicts, lists, str and numbers only
    assert [m["name"] for m in tables["models"]] == ["base", "full", "quad"]
    assert tables["banner"]["ok"] is True


def test_subsample_is_deterministic():
    first, note = report_plots.subsample(20_000)
    again, _ = report_plots.subsample(20_000)
    assert len(first) == report_plots.MAX_POINTS and np.array_equal(first, again)
    assert np.all(np.diff(first) > 0) and "subsample of 5000 of 20000" in note
    assert report_plots.subsample(100)[1] == ""
    rng = np.random.default_rng(1)
    x = rng.uniform(size=6000)
    frame = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(1 + x))})
    res = glmspec.fit("y ~ x", frame, family="poisson")
    assert "subsample of 5000 of 6000" in report_plots.residuals_fitted_plot(res).caption
    assert "all 6000 residuals" in report_plots.qq_plot(res).caption


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_failed_render_keeps_previous_report(restaurant, tmp_path, monkeypatch):
    spec, fitted = restaurant
    folder = write_report(spec, fitted[:2], out_dir=tmp_path)
    before = _snapshot(folder)

    def broken_plot(res):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(report_plots, "qq_plot", broken_plot)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_report(spec, fitted, out_dir=tmp_path)
    assert _snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging left


@pytest.mark.parametrize("exchange", [True, False])
def test_failed_swap_restores_previous_report(restaurant, tmp_path, monkeypatch, exchange):
    spec, fitted = restaurant
    folder = write_report(spec, fitted[:1], out_dir=tmp_path, formats=["json"])
    before = _snapshot(folder)
    real_rename = os.rename

    def flaky_rename(src, dst, *args):
        if "glmspec-staging-" in str(src):
            raise OSError(5, "disk trouble")
        if args:  # renameat2: exchange or no-replace
            return False
        return real_rename(src, dst)

    # the renameat2 exchange, or the fallback's second rename after the first moved it aside
    monkeypatch.setattr("glmspec.report.swap.os.rename", flaky_rename)
    monkeypatch.setattr(
        "glmspec.report.swap._renameat2", flaky_rename if exchange else lambda *a: False
    )
    with pytest.raises(GLMSpecError, match="disk trouble"):
        write_report(spec, fitted, out_dir=tmp_path, formats=["json"])
    assert _snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_rewrite_replaces_report(restaurant, tmp_path):
    spec, fitted = restaurant
    folder = write_report(spec, fitted[:1], out_dir=tmp_path)
    (folder / "stale.txt").write_text("old")
    again = write_report(spec, fitted[1:], out_dir=tmp_path)
    assert again == folder and not (folder / "stale.txt").exists()
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert list(doc["models"]) == ["full", "quad"]
    assert not (folder / "plots" / "base_forest.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_names_are_escaped(tmp_path):
    entry = ModelEntry("odd <b>name</b> | x", "GRADE ~ GPA", "binomial")
    fm = fit_entry(entry, glmspec.datasets.load("spector"), check=False)
    folder = write_report(Spec("Odd <title>", (entry,)), [fm], out_dir=tmp_path)
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "<b>name</b>" not in html and "&lt;b&gt;name&lt;/b&gt;" in html
    tree = Tree(html).root
    (section,) = tree.find_all("section", id="model-odd__b_name__b____x")
    assert section.find_all("h2")[0].text == "odd <b>name</b> | x"
    md = (folder / "index.md").read_text(encoding="utf-8")
    assert "## odd &lt;b>name&lt;/b> \\| x" in md
    assert (folder / "plots" / "odd__b_name__b____x_forest.png").is_file()
