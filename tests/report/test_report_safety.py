"""Reports never destroy what glmspec did not write (issue 12).

Every test puts something at a report's place (a user's folder, a file, a link, the input
data, a fake home folder), or kills the writer at a chosen step, and asserts the safe outcome:
refused with one clear line and left untouched, or a complete report and no leftovers.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from glmspec.errors import ReportTargetError, SpecError
from glmspec.report import swap, write_report
from glmspec.spec import load_spec
from tests.helpers import run_cli

SPEC = """\
title = "{title}"
data = "analysis/grades.csv"
[[model]]
name = "linear"
formula = "grade ~ hours"
[check]
against = "none"
[report]
formats = ["json"]
{report}"""

#: Kill the writer at a step of publishing (``swap._checkpoint``), optionally without renameat2.
DRIVER = textwrap.dedent(
    """
    import dataclasses, os, signal, sys
    from glmspec.report import swap, write_report
    from glmspec.spec import load_spec

    spec_path, out, label, exchange, title = sys.argv[1:]

    def checkpoint(name):
        if name == label:
            os.kill(os.getpid(), signal.SIGKILL)

    swap._checkpoint = checkpoint
    if exchange == "0":
        swap._renameat2 = lambda *args: False
    spec = dataclasses.replace(load_spec(spec_path), title=title)
    write_report(spec, spec.fit(), out_dir=out)
    """
)


def fake_home(home: Path) -> dict[str, str]:
    """The environment with ``HOME`` set to ``home`` (matplotlib keeps its font cache)."""
    return {**os.environ, "HOME": str(home), "MPLCONFIGDIR": matplotlib.get_cachedir()}


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file and link under ``folder`` with its contents (links: their target)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[key] = path.read_bytes()
        else:
            out[key] = "<dir>"
    return out


def assert_one_line_error(proc, *phrases: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glmspec: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "[Errno" not in proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def report_title(folder: Path) -> str:
    """The title of the complete report in ``folder`` (fails if it is not one)."""
    assert (folder / swap.MARKER).read_text(encoding="utf-8") == swap.MARKER_TEXT
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))["title"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``analysis.toml`` next to ``analysis/grades.csv``, as a user lays a project out."""
    rng = np.random.default_rng(12)
    hours = rng.uniform(0, 10, size=30)
    grades = pd.DataFrame({"hours": hours, "grade": 50 + 4 * hours + rng.normal(0, 5, 30)})
    (tmp_path / "analysis").mkdir()
    grades.to_csv(tmp_path / "analysis" / "grades.csv", index=False)
    write_spec(tmp_path)
    return tmp_path


def write_spec(folder: Path, report: str = "", title: str = "v1", name="analysis.toml") -> Path:
    path = folder / name
    path.write_text(SPEC.format(title=title, report=report), encoding="utf-8")
    return path


def write(project: Path, out: Path, title: str = "v1", **options):
    spec = dataclasses.replace(load_spec(project / "analysis.toml"), title=title)
    return write_report(spec, spec.fit(), out_dir=out, **options)


def user_folder(path: Path) -> dict[str, bytes | str]:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("three years of work")
    (path / "results.json").write_text('{"mine": true}')
    (path / "figures").mkdir()
    (path / "figures" / "plot.png").write_bytes(b"\x89PNG user")
    return snapshot(path)


# ------------------------------------------------------------------ what is at the target


def test_user_folder_at_the_target_is_refused_and_untouched(project):
    out = project / "reports"
    before = user_folder(out / "analysis")
    with pytest.raises(ReportTargetError, match="did not write") as info:
        write(project, out)
    assert str(out / "analysis") in str(info.value) and "--force" in str(info.value)
    proc = run_cli("run", "analysis.toml", "--out", "reports", cwd=project)
    assert_one_line_error(proc, str(out / "analysis"), "--out", "--force")
    assert snapshot(out / "analysis") == before
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]  # no staging, no lock left


def test_force_replaces_a_folder_but_never_a_file_or_a_link(project):
    out = project / "reports"
    user_folder(out / "analysis")
    proc = run_cli("run", "analysis.toml", "--out", "reports", "--force", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert report_title(out / "analysis") == "v1"
    assert not (out / "analysis" / "thesis.tex").exists()
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]


def test_plain_file_at_the_target_is_refused_even_with_force(project):
    out = project / "reports"
    out.mkdir()
    (out / "analysis").write_text("my notes")
    for force in (False, True):
        with pytest.raises(ReportTargetError, match="it is a file"):
            write(project, out, force=force)
    proc = run_cli("run", "analysis.toml", "--out", "reports", "--force", cwd=project)
    assert_one_line_error(proc, str(out / "analysis"), "is a file")
    assert (out / "analysis").read_text() == "my notes"
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]


@pytest.mark.parametrize("points_to", ["user folder", "glmspec report", "missing"])
def test_symlink_at_the_target_is_refused_and_its_target_untouched(project, points_to):
    out, elsewhere = project / "reports", project / "elsewhere"
    out.mkdir()
    if points_to == "user folder":
        user_folder(elsewhere)
    elif points_to == "glmspec report":
        write(project, project, title="kept", name="elsewhere")
    (out / "analysis").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(project)
    for force in (False, True):
        with pytest.raises(ReportTargetError, match="symbolic link"):
            write(project, out, force=force)
    if points_to == "user folder":
        proc = run_cli("run", "analysis.toml", "--out", "reports", "--force", cwd=project)
        assert_one_line_error(proc, "symbolic link")
    assert snapshot(project) == before
    assert os.readlink(out / "analysis") == str(elsewhere)


def test_folder_holding_the_input_data_is_refused_even_with_force(project):
    """``glmspec run analysis.toml --out .`` next to ``analysis/grades.csv``."""
    before = snapshot(project)
    proc = run_cli("run", "analysis.toml", "--out", ".", cwd=project)
    assert_one_line_error(proc, "input data", str(project / "analysis" / "grades.csv"))
    assert snapshot(project) == before
    # from inside the data folder, and fit --report on the data folder itself
    cwd = project / "analysis"
    proc = run_cli("run", "../analysis.toml", "--out", "..", "--force", cwd=cwd)
    assert_one_line_error(proc, "input data")
    data = str(project / "analysis" / "grades.csv")
    proc = run_cli(
        "fit", "grade ~ hours", "--data", data, "--report", cwd.name, "--force", cwd=project
    )
    assert_one_line_error(proc, "input data")
    assert snapshot(project) == before
    for out in (project, project.parent):  # the data's folder, or a parent of it
        with pytest.raises(ReportTargetError, match="input data"):
            write(project, out, force=True, name=None if out == project else project.name)
    assert snapshot(project) == before


def test_working_directory_and_home_are_refused_even_with_force(project, tmp_path):
    data = str(project / "analysis" / "grades.csv")
    work = tmp_path / "work"
    before = user_folder(work)
    proc = run_cli("fit", "grade ~ hours", "--data", data, "--report", ".", "--force", cwd=work)
    assert_one_line_error(proc, "working directory")
    env = fake_home(work)
    proc = run_cli(
        "fit", "grade ~ hours", "--data", data, "--report", str(work), "--force",
        cwd=project, env=env,
    )  # fmt: skip
    assert_one_line_error(proc, "home folder")
    assert snapshot(work) == before


def test_fit_report_does_not_empty_a_user_folder(project):
    data = str(project / "analysis" / "grades.csv")
    before = user_folder(project / "mine")
    proc = run_cli("fit", "grade ~ hours", "--data", data, "--report", "mine", cwd=project)
    assert_one_line_error(proc, str(project / "mine"), "--force")
    assert snapshot(project / "mine") == before
    proc = run_cli(
        "fit", "grade ~ hours", "--data", data, "--report", "mine", "--force", cwd=project
    )
    assert proc.returncode == 0, proc.stderr
    assert not (project / "mine" / "thesis.tex").exists()
    assert (project / "mine" / "index.html").is_file()
    assert report_title(project / "mine").startswith("glmspec fit")


# ------------------------------------------------------------------ re-runs replace reports


def test_rerun_replaces_its_own_report(project):
    out = project / "reports"
    first = write(project, out, title="v1")
    (first / "notes.txt").write_text("added later")  # glmspec's folder: replaced whole
    again = write(project, out, title="v2")
    assert again == first and report_title(first) == "v2"
    assert not (first / "notes.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]


def test_report_of_an_older_glmspec_is_replaced_but_not_a_lookalike(project):
    """Reports written before the marker are recognised by their results.json signature and
    holding only the files glmspec writes; with anything else in them they are refused."""
    out = project / "reports"
    old = write(project, out, title="old")
    (old / swap.MARKER).unlink()
    assert swap.is_report(old)
    assert report_title(write(project, out, title="new")) == "new"
    (old / swap.MARKER).unlink()
    (old / "thesis.tex").write_text("mine")
    before = snapshot(old)
    with pytest.raises(ReportTargetError, match="did not write"):
        write(project, out, title="newer")
    assert snapshot(old) == before
    (old / "thesis.tex").unlink()
    (old / "results.json").write_text(json.dumps({"generator": "other", "models": {}}))
    assert not swap.is_report(old)


# ------------------------------------------------------------------ [report] dir in a spec


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("/tmp/elsewhere", "absolute"),
        ("~", "'~'"),
        ("~/reports", "'~'"),
        ("..", "leaves the spec's folder"),
        ("reports/../../x", "leaves the spec's folder"),
    ],
)
def test_report_dir_outside_the_spec_folder_is_a_spec_error(project, folder, why):
    write_spec(project, report=f'dir = "{folder}"\n')
    before = snapshot(project.parent)
    with pytest.raises(SpecError, match=why):
        load_spec(project / "analysis.toml")
    if folder == "..":
        proc = run_cli("run", "analysis.toml", cwd=project)
        assert_one_line_error(proc, "[report]", "'dir'", why)
    assert snapshot(project.parent) == before


def test_report_dir_is_relative_to_the_spec_folder(project, tmp_path):
    write_spec(project, report='dir = "out/reports"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli("run", str(project / "analysis.toml"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert report_title(project / "out" / "reports" / "analysis") == "v1"
    assert list(elsewhere.iterdir()) == []


def test_ssh_named_spec_cannot_touch_home(project, tmp_path):
    """A shared spec named ``.ssh.toml`` with ``dir = "~"`` (or saved in the home folder)."""
    home = tmp_path / "home"
    before = user_folder(home / ".ssh")
    (home / "analysis").symlink_to(project / "analysis")
    env = fake_home(home)
    write_spec(home, report='dir = "~"\n', name=".ssh.toml")
    proc = run_cli("run", ".ssh.toml", "--force", cwd=home, env=env)
    assert_one_line_error(proc, "'~'")
    write_spec(home, name=".ssh.toml")  # default dir: reports/.ssh
    assert_one_line_error(run_cli("run", ".ssh.toml", cwd=home, env=env), "'.ssh'", "hidden")
    write_spec(home, report='dir = "."\n', name=".ssh.toml")  # .ssh in the home folder
    proc = run_cli("run", ".ssh.toml", "--force", cwd=home, env=env)
    assert_one_line_error(proc, "'.ssh'", "hidden")
    assert snapshot(home / ".ssh") == before


# ------------------------------------------------------------------ crashes and concurrency


def _exchange_works(folder: Path) -> bool:
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    try:
        return swap._renameat2(folder / "a", folder / "b", 2)
    finally:
        os.rmdir(folder / "a")
        os.rmdir(folder / "b")


@pytest.mark.parametrize(
    ("label", "exchange"),
    [
        ("staged", True),  # the new report is built, nothing published yet
        ("locked", True),  # holding the lock (its file is left behind)
        ("exchanged", True),  # swapped, the old report not yet deleted
        ("moved-aside", False),  # fallback: old report renamed aside, new not yet in place
        ("renamed", False),  # fallback: new report in place, old not yet deleted
    ],
)
def test_kill_9_then_a_normal_run_leaves_a_complete_report(project, label, exchange):
    out = project / "reports"
    write(project, out, title="old")
    if exchange and not _exchange_works(project):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    driver = project / "driver.py"
    driver.write_text(DRIVER)
    args = [str(project / "analysis.toml"), str(out), label, "1" if exchange else "0", "new"]
    proc = subprocess.run(
        [sys.executable, str(driver), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if exchange:  # atomic: the old or the new complete report at every moment
        assert report_title(out / "analysis") in ("old", "new")
    assert len(list(out.iterdir())) > 1  # the crash did leave something to clean up
    assert report_title(write(project, out, title="next")) == "next"
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]


def test_fallback_crash_recovery_puts_the_old_report_back(project):
    """Killed between the fallback's two renames: the next run finds the old report aside,
    puts it back under the lock and only then replaces it."""
    out = project / "reports"
    write(project, out, title="old")
    driver = project / "driver.py"
    driver.write_text(DRIVER)
    args = [str(project / "analysis.toml"), str(out), "moved-aside", "0", "new"]
    subprocess.run([sys.executable, str(driver), *args], capture_output=True, timeout=300)
    assert not (out / "analysis").exists()
    (backup,) = out.glob(".analysis.glmspec-backup-*")
    assert report_title(backup) == "old"
    swap._clean_leftovers(out / "analysis", keep=out / "none")
    assert report_title(out / "analysis") == "old"
    # the staging folder is gone; the lock file stays until the next run ends
    assert sorted(p.name for p in out.iterdir()) == [".analysis.glmspec-lock", "analysis"]


def test_cleanup_removes_only_glmspec_leftovers(project):
    out = project / "reports"
    write(project, out)
    mine = user_folder(out / ".analysis.glmspec-staging-notmine")  # lookalike name, no marker
    (out / ".analysis.glmspec-staging-empty0000").mkdir()
    with swap.staging_folder(out, "analysis") as live:  # another run still building
        (live / "results.json").write_text("{}")
        write(project, out, title="v2")
        assert live.is_dir() and report_title(out / "analysis") == "v2"
    assert live.is_dir()  # that run died without publishing: the next run removes it
    assert not (out / ".analysis.glmspec-staging-empty0000").exists()
    write(project, out, title="v3")
    assert report_title(out / "analysis") == "v3"
    assert snapshot(out / ".analysis.glmspec-staging-notmine") == mine
    names = sorted(p.name for p in out.iterdir())
    assert names == [".analysis.glmspec-staging-notmine", "analysis"]


def test_second_run_waits_then_fails_with_one_line(project, monkeypatch):
    out = project / "reports"
    write(project, out, title="v1")
    monkeypatch.setattr(swap, "LOCK_WAIT", 0.2)
    lock = os.open(out / swap.lock_name("analysis"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another run publishing to the same target
    try:
        with pytest.raises(ReportTargetError) as info:
            write(project, out, title="v2")
    finally:
        os.close(lock)
    assert str(info.value) == (
        f"another glmspec run is writing {out / 'analysis'}; try again when it finishes."
    )
    assert report_title(out / "analysis") == "v1"
    (out / swap.lock_name("analysis")).unlink()
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]


def test_three_concurrent_runs(project):
    out = project / "reports"
    write(project, out, title="v1")
    command = [sys.executable, "-m", "glmspec", "run", "analysis.toml", "--out", "reports"]
    runs = [
        subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for proc in runs:
        _, err = proc.communicate(timeout=300)
        err = err.decode()
        if proc.returncode != 0:
            assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err
            assert "another glmspec run is writing" in err, err
    assert report_title(out / "analysis") == "v1"
    assert sorted(p.name for p in out.iterdir()) == ["analysis"]
