"""Tests of :mod:`glmspec.spec`: TOML/dict specs, their validation and fitting every model."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

import glmspec
from glmspec.errors import SpecError
from glmspec.spec import FittedModel, ModelEntry, Spec, load_spec

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets"
BUNDLED = ["anes96", "cpunish", "restaurant_visitors", "scotland", "spector", "star98"]

SPECTOR = """
title = "Spector"
data = "spector.csv"
[defaults]
family = "binomial"
[[model]]
name = "logit"
formula = "GRADE ~ GPA + TUCE + PSI"
[[model]]
name = "probit"
formula = "GRADE ~ GPA + PSI"
link = "probit"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A temporary folder holding a copy of spector.csv."""
    shutil.copy(DATA_DIR / "spector.csv", tmp_path / "spector.csv")
    return tmp_path


def write(folder: Path, text: str, name: str = "bad.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    return message


# ---------------------------------------------------------------------------- bundled specs


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_spec_loads_fits_and_passes_check(name: str) -> None:
    spec = load_spec(DATA_DIR / f"{name}.toml")
    assert spec.path == (DATA_DIR / f"{name}.toml").resolve()
    assert spec.data == DATA_DIR / f"{name}.csv"
    assert spec.check_against == "statsmodels" and spec.check_tol == 1e-6
    assert len(spec.models) >= 2
    fitted = spec.fit()
    assert [f.entry.name for f in fitted] == [m.name for m in spec.models]
    for f in fitted:
        assert f.error is None and f.check_error is None, (f.entry.name, f.error)
        assert f.results.converged and f.warnings == []
        assert f.check is not None and f.check.attrs["passed"], f.entry.name
        assert f.ok
        assert f.data_rows == len(spec.load_data(f.entry))


def test_restaurant_spec_contents() -> None:
    spec = load_spec(DATA_DIR / "restaurant_visitors.toml")
    assert spec.title == "Lunchtime visitors"
    assert spec.stem == "restaurant_visitors"
    assert spec.report_formats == ("html", "markdown")
    assert spec.report_dir == DATA_DIR.resolve() / "reports"  # relative to the spec's folder
    by_name = {m.name: m for m in spec.models}
    assert {m.family for m in spec.models} == {"poisson"}
    assert by_name["weather_sqrt"].link == "sqrt" and by_name["base"].link is None
    assert "event" in by_name["full"].formula


# ----------------------------------------------------------------- defaults, data, from_dict


def test_defaults_fill_and_model_values_override(folder: Path) -> None:
    text = SPECTOR.replace('family = "binomial"', 'family = "binomial"\nmax_iter = 50')
    spec = load_spec(write(folder, text + "max_iter = 20\n"))  # the last model's own value
    logit, probit = spec.models
    assert logit == ModelEntry(
        name="logit",
        formula="GRADE ~ GPA + TUCE + PSI",
        family="binomial",
        max_iter=50,
        data=folder.resolve() / "spector.csv",
    )
    assert probit.link == "probit" and probit.family == "binomial" and probit.max_iter == 20
    assert spec.title == "Spector" and spec.path == (folder / "bad.toml").resolve()


def test_title_defaults_to_file_stem_and_family_alias(folder: Path) -> None:
    text = SPECTOR.replace('title = "Spector"\n', "").replace('"binomial"', '"bernoulli"')
    spec = load_spec(write(folder, text, "my_models.toml"))
    assert spec.title == "my_models" and spec.stem == "my_models"
    assert {m.family for m in spec.models} == {"binomial"}


def test_per_model_data_overrides_top_level(folder: Path) -> None:
    (folder / "sub").mkdir()
    shutil.copy(DATA_DIR / "cpunish.csv", folder / "sub" / "cpunish.csv")
    text = SPECTOR + (
        '[[model]]\nname = "executions"\nformula = "EXECUTIONS ~ INCOME + SOUTH"\n'
        'family = "poisson"\ndata = "sub/cpunish.csv"\n'
    )
    spec = load_spec(write(folder, text))
    assert spec.data == folder.resolve() / "spector.csv"
    assert spec.models[0].data == spec.data
    assert spec.models[2].data == folder.resolve() / "sub" / "cpunish.csv"
    rows = {f.entry.name: f.data_rows for f in spec.fit(check=False)}
    assert rows == {"logit": 32, "probit": 32, "executions": 17}


def test_model_data_without_top_level_data(folder: Path) -> None:
    text = SPECTOR.replace('data = "spector.csv"\n', "").replace(
        'name = "logit"\n', 'name = "logit"\ndata = "spector.csv"\n'
    )
    message = problems_of(write(folder, text))
    assert "1 problem(s)" in message
    assert "model #2 'probit', key 'data': no data" in message


def test_from_dict_equals_load_spec(folder: Path) -> None:
    path = write(folder, SPECTOR, "same.toml")
    from_file = load_spec(path)
    mapping = tomllib.loads(SPECTOR)
    from_dict = Spec.from_dict(mapping, base_dir=folder)
    assert from_dict.path is None and from_dict.stem == "spector"
    assert from_dict == dataclasses.replace(from_file, path=None)
    assert from_dict.models == from_file.models


def test_from_dict_default_base_dir_is_cwd(folder: Path, monkeypatch) -> None:
    monkeypatch.chdir(folder)
    spec = Spec.from_dict(tomllib.loads(SPECTOR))
    assert spec.data == folder.resolve() / "spector.csv"
    assert spec.title == "Spector"


def test_relative_data_resolved_from_spec_folder_not_cwd(folder: Path, monkeypatch) -> None:
    (folder / "specs").mkdir()
    write(folder / "specs", SPECTOR.replace('"spector.csv"', '"../spector.csv"'), "s.toml")
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(Path("..") / "specs" / "s.toml")
    assert spec.data == folder.resolve() / "spector.csv"
    assert spec.report_dir == folder.resolve() / "specs" / "reports"  # the spec's, not the cwd
    assert all(f.ok for f in spec.fit())


def test_data_read_once_and_shared(folder: Path) -> None:
    spec = load_spec(write(folder, SPECTOR))
    first, second = spec.models
    assert spec.load_data(first) is spec.load_data(second)


def test_check_none_and_check_false_skip_statsmodels(folder: Path) -> None:
    text = SPECTOR + '[check]\nagainst = "none"\n[report]\nformats = ["json"]\ndir = "out"\n'
    spec = load_spec(write(folder, text))
    assert spec.check_against is None and spec.report_formats == ("json",)
    assert spec.report_dir == folder.resolve() / "out"
    assert all(f.check is None and f.ok for f in spec.fit())
    assert all(f.check is None for f in load_spec(write(folder, SPECTOR)).fit(check=False))


def test_progress_called_before_each_model(folder: Path) -> None:
    calls = []
    load_spec(write(folder, SPECTOR)).fit(progress=lambda i, n, name: calls.append((i, n, name)))
    assert calls == [(1, 2, "logit"), (2, 2, "probit")]


# ---------------------------------------------------------------------- fitting outcomes


def test_failing_model_records_error_and_others_go_on(folder: Path) -> None:
    text = SPECTOR + (
        '[[model]]\nname = "aliased"\nformula = "GRADE ~ GPA + I(2 * GPA)"\n'
        '[[model]]\nname = "after"\nformula = "GRADE ~ PSI"\n'
    )
    fitted = {f.entry.name: f for f in load_spec(write(folder, text)).fit()}
    bad = fitted["aliased"]
    assert bad.results is None and bad.check is None and not bad.ok
    assert bad.error.startswith("SingularDesignError:") and "\n" not in bad.error
    assert bad.data_rows == 32
    assert fitted["logit"].ok and fitted["probit"].ok and fitted["after"].ok


def test_warnings_captured(folder: Path) -> None:
    text = SPECTOR + '[[model]]\nname = "slow"\nformula = "GRADE ~ GPA + TUCE"\nmax_iter = 1\n'
    fitted = load_spec(write(folder, text)).fit()
    slow = fitted[-1]
    assert isinstance(slow, FittedModel) and slow.error is None
    assert not slow.results.converged and not slow.ok
    assert len(slow.warnings) == 1 and slow.warnings[0].startswith("ConvergenceWarning: ")
    assert fitted[0].warnings == []


def test_check_error_when_statsmodels_cannot_check(folder: Path) -> None:
    text = SPECTOR + (
        '[[model]]\nname = "mn"\nformula = "GRADE ~ GPA"\nfamily = "multinomial"\n'
        'weights = "TUCE"\n'
    )
    mn = load_spec(write(folder, text)).fit()[-1]
    assert mn.results is not None and mn.check is None
    assert "MNLogit" in mn.check_error and mn.error is None


# ------------------------------------------------------------------------------ bad specs


def test_unknown_keys_with_suggestions(folder: Path) -> None:
    text = SPECTOR.replace("title", "titel").replace('link = "probit"', 'lnk = "probit"')
    text += '[check]\nagainst = "statsmodels"\ntoll = 1e-6\n[report]\nformat = ["html"]\n'
    message = problems_of(write(folder, text))
    assert "4 problem(s)" in message
    assert "top level, key 'titel': unknown key 'titel'; allowed: title, data," in message
    assert "Did you mean 'title'?" in message
    assert "model #2 'probit', key 'lnk'" in message and "Did you mean 'link'?" in message
    assert "[check], key 'toll'" in message and "allowed: against, tol." in message
    assert "[report], key 'format'" in message
    assert "allowed: formats, dir, intervals, drop1, emmeans." in message


def test_missing_required_keys(folder: Path) -> None:
    text = 'data = "spector.csv"\n[[model]]\nformula = "GRADE ~ GPA"\n[[model]]\nname = "x"\n'
    message = problems_of(write(folder, text))
    assert "model #1, key 'name': required key is missing." in message
    assert "model #2 'x', key 'formula': required key is missing." in message


def test_no_models_and_no_data(folder: Path) -> None:
    message = problems_of(write(folder, 'title = "empty"\n'))
    assert "top level, key 'model': the spec needs a list of [[model]] tables" in message
    message = problems_of(write(folder, '[[model]]\nname = "a"\nformula = "y ~ x"\n'))
    assert "model #1 'a', key 'data': no data" in message
    message = problems_of(write(folder, 'data = "spector.csv"\n[model]\nname = "a"\n'))
    assert "key 'model'" in message and "got a table" in message


def test_wrong_types(folder: Path) -> None:
    text = SPECTOR.replace('title = "Spector"', "title = 3").replace(
        'link = "probit"', 'link = "probit"\nmax_iter = "10"\ntol = true'
    )
    text += "[check]\ntol = 'small'\n[report]\nformats = 'html'\ndir = 1\n"
    message = problems_of(write(folder, text))
    assert "top level, key 'title': must be a string, got an integer 3." in message
    assert "model #2 'probit', key 'max_iter': must be an integer, got a string '10'." in message
    assert "model #2 'probit', key 'tol': must be a number, got a boolean True." in message
    assert "[check], key 'tol': must be a number" in message
    assert "[report], key 'formats': must be a list of strings" in message
    assert "[report], key 'dir': must be a string" in message


def test_unknown_family(folder: Path) -> None:
    message = problems_of(write(folder, SPECTOR.replace('"binomial"', '"binomal"')))
    expected = "[defaults], key 'family': unknown family 'binomal'; known families: gaussian,"
    assert expected in message
    assert "Did you mean 'binomial'?" in message
    # the bad default family is reported once, not once per model (nor as a bad link)
    assert "1 problem(s)" in message


def test_unknown_link_and_link_not_of_family(folder: Path) -> None:
    text = SPECTOR.replace('link = "probit"', 'link = "probitt"') + (
        '[[model]]\nname = "pois"\nformula = "GRADE ~ GPA"\nfamily = "poisson"\nlink = "logit"\n'
    )
    message = problems_of(write(folder, text))
    assert "model #2 'probit', key 'link': unknown link 'probitt'; known links: identity, log," in (
        message
    )
    assert "Did you mean 'probit'?" in message
    assert (
        "model #3 'pois', key 'link': link 'logit' is not available for the poisson family; "
        "allowed links: log, identity, sqrt." in message
    )


def test_link_from_defaults_checked_against_model_family(folder: Path) -> None:
    text = SPECTOR.replace('family = "binomial"', 'family = "binomial"\nlink = "logit"')
    text += '[[model]]\nname = "g"\nformula = "GPA ~ TUCE"\nfamily = "gaussian"\n'
    message = problems_of(write(folder, text))
    assert "model #3 'g', key 'link': link 'logit' is not available for the gaussian" in message
    assert "(link from [defaults])" in message
    assert "allowed links: identity, log, inverse." in message


def test_formula_errors_and_missing_columns(folder: Path) -> None:
    text = SPECTOR.replace("GRADE ~ GPA + TUCE + PSI", "GRADE ~ GPA + (TUCE").replace(
        "GRADE ~ GPA + PSI", "GRADE ~ np.log(GPAA) + C(PSY)"
    )
    text += '[[model]]\nname = "w"\nformula = "GPA"\nweights = "wt"\noffset = "TUC"\n'
    message = problems_of(write(folder, text))
    assert "model #1 'logit', key 'formula': 'GRADE ~ GPA + (TUCE' does not parse" in message
    assert "model #2 'probit', key 'formula': column 'GPAA' is not in spector.csv." in message
    assert "Did you mean 'GPA'? Columns: GPA, TUCE, PSI, GRADE." in message
    assert "column 'PSY' is not in spector.csv. Did you mean 'PSI'?" in message
    assert "model #3 'w', key 'formula': 'GPA' needs a response" in message
    assert "model #3 'w', key 'weights': column 'wt' is not in spector.csv." in message
    assert "model #3 'w', key 'offset': column 'TUC' is not in spector.csv." in message


def test_duplicate_and_unsafe_names(folder: Path) -> None:
    text = SPECTOR.replace('name = "probit"', 'name = "logit"') + (
        '[[model]]\nname = "../up"\nformula = "GRADE ~ GPA"\n'
    )
    message = problems_of(write(folder, text))
    assert "model #2 'logit', key 'name': 'logit' is already the name of model #1." in message
    assert "model #3 '../up', key 'name': '../up' is not a safe folder/file name" in message


def test_bad_option_values(folder: Path) -> None:
    text = SPECTOR.replace(
        'link = "probit"', 'link = "probit"\nmissing = "omit"\nmax_iter = 0\ntol = 2.0'
    )
    message = problems_of(write(folder, text))
    assert "key 'missing': must be one of 'raise', 'drop', got 'omit'." in message
    assert "key 'max_iter': must be a positive integer, got 0." in message
    assert "key 'tol': must be a number in (0, 1), got 2.0." in message


def test_check_and_report_values(folder: Path) -> None:
    text = SPECTOR + '[check]\nagainst = "R"\ntol = 0\n[report]\nformats = ["html", "pdf"]\n'
    message = problems_of(write(folder, text))
    assert "[check], key 'against': unknown check 'R'; allowed: statsmodels, none." in message
    assert "[check], key 'tol': must be a number in (0, 1), got 0." in message
    assert "[report], key 'formats': unknown format 'pdf'; allowed: html, markdown, json." in (
        message
    )


@pytest.mark.parametrize(
    ("data", "content", "expected"),
    [
        ("missing.csv", None, "does not exist"),
        ("data.xlsx", "a,b\n1,2\n", "unsupported extension '.xlsx'; allowed: .csv, .parquet."),
        ("empty.csv", "", "cannot be read: EmptyDataError"),
        ("header.csv", "GRADE,GPA\n", "has no rows"),
        ("broken.parquet", "not parquet", "cannot be read"),
    ],
)
def test_bad_data_files(folder: Path, data: str, content: str | None, expected: str) -> None:
    if content is not None:
        (folder / data).write_text(content, encoding="utf-8")
    message = problems_of(write(folder, SPECTOR.replace("spector.csv", data)))
    assert f"top level, key 'data': data file '{data}'" in message or (
        f"top level, key 'data': data file '{folder.resolve() / data}'" in message
    )
    assert expected in message
    assert "1 problem(s)" in message  # the models are not blamed for the data


def test_bad_per_model_data_names_the_model(folder: Path) -> None:
    text = SPECTOR.replace('name = "probit"', 'name = "probit"\ndata = "nope.csv"')
    message = problems_of(write(folder, text))
    assert "model #2 'probit', key 'data': data file" in message and "nope.csv" in message


def test_many_problems_reported_together(folder: Path) -> None:
    text = (
        'titel = "x"\ndata = "spector.csv"\n[defaults]\nfamily = "poison"\n'
        '[[model]]\nname = "a"\nformula = "GRADE ~ GPAA"\n'
        '[[model]]\nname = "a"\nformula = "GRADE ~ GPA"\nlink = "nope"\n'
        '[check]\nagainst = "R"\n[report]\nformats = ["pdf"]\n'
    )
    with pytest.raises(SpecError) as info:
        load_spec(write(folder, text))
    problems = info.value.problems
    assert len(problems) == 7
    assert str(info.value).count("\n  - ") == 7
    assert str(info.value).startswith(f"invalid spec {folder / 'bad.toml'}: 7 problem(s):")


def test_file_not_found_and_not_toml(folder: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(folder / "nothing.toml")
    with pytest.raises(SpecError, match="cannot be read as TOML"):
        load_spec(write(folder, "title = \n"))


def test_from_dict_errors_name_the_source(folder: Path) -> None:
    with pytest.raises(SpecError, match=r"(?s)invalid spec <mine>: .*unknown family 'poison'"):
        Spec.from_dict(
            {
                "data": "spector.csv",
                "model": [{"name": "a", "formula": "GRADE ~ GPA"}],
                "defaults": {"family": "poison"},
            },
            base_dir=folder,
            source="<mine>",
        )


def test_cov_type_and_groups_from_a_spec_reach_the_fit_and_the_report(tmp_path):
    from glmspec.report import write_report

    data = str(glmspec.datasets.path("restaurant_visitors"))
    spec = Spec.from_dict(
        {
            "data": data,
            "model": [
                {
                    "name": "clustered",
                    "formula": "visitors ~ hour + rain",
                    "family": "poisson",
                    "cov_type": "cluster",
                    "groups": "date",
                }
            ],
            "check": {"against": "none"},
        }
    )
    (item,) = spec.fit()
    direct = glmspec.fit(
        "visitors ~ hour + rain",
        glmspec.datasets.load("restaurant_visitors"),
        "poisson",
        cov_type="cluster",
        groups="date",
    )
    assert item.results.cov_type == "cluster"
    np.testing.assert_allclose(item.results.bse, direct.bse, rtol=1e-12)
    out = write_report(spec, [item], out_dir=tmp_path, formats=["markdown"])
    assert "Robust sandwich covariance cluster" in (out / "index.md").read_text()


def test_unknown_cov_type_and_groups_column_are_spec_errors():
    data = str(glmspec.datasets.path("restaurant_visitors"))
    with pytest.raises(SpecError) as info:
        Spec.from_dict(
            {
                "data": data,
                "model": [
                    {"name": "m", "formula": "visitors ~ hour", "cov_type": "HC9", "groups": "dat"}
                ],
            }
        )
    message = str(info.value)
    assert "'cov_type'" in message and "HC0" in message
    assert "'groups'" in message and "Did you mean 'date'" in message


def test_report_inference_options_give_profile_drop1_and_emmeans_tables(tmp_path):
    import json

    from glmspec.report import write_report

    data = str(glmspec.datasets.path("restaurant_visitors"))
    spec = Spec.from_dict(
        {
            "data": data,
            "defaults": {"family": "poisson"},
            "model": [
                {"name": "days", "formula": "visitors ~ hour + factor(weekday) + rain"},
                {"name": "hours", "formula": "visitors ~ hour + rain"},
            ],
            "check": {"against": "none"},
            "report": {"intervals": "profile", "drop1": "Chisq", "emmeans": ["C(weekday)", "rain"]},
        }
    )
    assert (spec.report_intervals, spec.report_drop1) == ("profile", "Chisq")
    fitted = spec.fit()
    out = write_report(spec, fitted, out_dir=tmp_path, formats=["markdown", "json", "html"])
    stored = json.loads((out / "results.json").read_text())["models"]
    res = fitted[0].results
    inference = stored["days"]["inference"]
    profile = res.conf_int(method="profile")
    np.testing.assert_allclose([r["lower"] for r in inference["profile"]["rows"]], profile[0])
    drop1 = res.drop1(test="Chisq")
    assert inference["drop1"]["columns"] == list(drop1.columns)
    np.testing.assert_allclose(inference["drop1"]["rows"][1]["values"][1:], drop1.iloc[1, 1:])
    emm, numeric = inference["emmeans"]
    assert "'rain' is numeric" in numeric["error"]  # shown as a note, not a failure
    expected = res.emmeans("C(weekday)")
    np.testing.assert_allclose([r["estimate"] for r in emm["rows"]], expected["estimate"])
    assert emm["averaged_over"] == ["rain"] and emm["covariates"] == {"hour": 12.5}
    # C(weekday) is not a term of this model: no table
    assert [e["term"] for e in stored["hours"]["inference"]["emmeans"]] == ["rain"]
    text = (out / "index.md").read_text()
    for heading in ("Profile-likelihood intervals", "drop1", "marginal means of `C(weekday)`"):
        assert heading in text
    assert 'data-term="C(weekday)"' in (out / "index.html").read_text()


def test_report_inference_options_are_validated():
    data = str(glmspec.datasets.path("restaurant_visitors"))
    report = {"intervals": "profil", "drop1": "chisq", "emmeans": ["C(wekday)", "hour"]}
    with pytest.raises(SpecError) as info:
        Spec.from_dict(
            {
                "data": data,
                "model": [{"name": "m", "formula": "visitors ~ hour + C(weekday)"}],
                "report": report,
            }
        )
    message = str(info.value)
    assert "'intervals'" in message and "Did you mean 'profile'" in message
    assert "'drop1'" in message and "Chisq" in message
    assert "'C(wekday)' is not a term" in message and "C(weekday)" in message
    assert "'hour'" not in message  # a term of the formula; whether it is a factor: at fit
    with pytest.raises(SpecError, match="must be a list"):
        Spec.from_dict(
            {
                "data": data,
                "model": [{"name": "m", "formula": "visitors ~ hour"}],
                "report": {"emmeans": "C(weekday)"},
            }
        )


def test_method_firth_in_a_spec_fits_the_bias_reduced_model():
    data = str(glmspec.datasets.path("spector"))
    spec = Spec.from_dict(
        {
            "data": data,
            "defaults": {"family": "binomial", "method": "firth"},
            "model": [{"name": "firth", "formula": "GRADE ~ GPA + PSI"}],
            "check": {"against": "none"},
        }
    )
    (item,) = spec.fit()
    direct = glmspec.fit(
        "GRADE ~ GPA + PSI", glmspec.datasets.load("spector"), "binomial", method="firth"
    )
    assert item.results.spec.method == "firth"
    np.testing.assert_allclose(item.results.params, direct.params, rtol=1e-12)
    with pytest.raises(SpecError, match="unknown method 'bias'"):
        Spec.from_dict({"data": data, "model": [{"name": "m", "formula": "GRADE ~ GPA"}],
                        "defaults": {"method": "bias"}})  # fmt: skip
