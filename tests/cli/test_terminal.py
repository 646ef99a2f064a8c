"""The command line in an 80-column terminal: a live progress line that never wraps, phases
shown, nothing stale left, status lines wrapped to the width; plain output in pipes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import glmspec
from tests.cli.terminal import run_in_terminal, screen

DATASETS = Path(glmspec.datasets.__file__).resolve().parent.parent / "datasets"
LONG_NAME = "a_model_whose_name_alone_takes_most_of_an_eighty_column_line_xx"


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("terminal")
    shutil.copy(DATASETS / "spector.csv", folder / "spector.csv")
    spec = folder / "spector.toml"
    spec.write_text(
        'data = "spector.csv"\n[defaults]\nfamily = "binomial"\n'
        f'[[model]]\nname = "{LONG_NAME}"\nformula = "GRADE ~ GPA + TUCE + PSI"\n'
        '[[model]]\nname = "probit"\nformula = "GRADE ~ GPA + TUCE + PSI"\nlink = "probit"\n'
        # a separated fit: its warning makes a status line far longer than 80 columns
        '[[model]]\nname = "separated"\nformula = "GRADE ~ I(GPA > 3.5) + I(GRADE + 0)"\n'
        'missing = "drop"\n'
    )
    return spec


@pytest.fixture(scope="module")
def terminal_run(spec_file):
    return run_in_terminal(["run", str(spec_file), "--out", "out"], cwd=spec_file.parent)


def test_nothing_drawn_wider_than_the_terminal(terminal_run):
    status, raw = terminal_run
    assert status in (0, 1), raw
    assert "report: " in raw, raw  # the run got as far as writing its report
    lines, widest = screen(raw)
    assert widest <= 80, f"a line of {widest} columns was drawn:\n" + "\n".join(lines)
    assert all(len(line) <= 80 for line in lines)


def test_every_phase_is_shown_and_nothing_stale_is_left(terminal_run):
    _, raw = terminal_run
    for phase in ("fitting", "checking", "plotting", "writing"):
        assert phase in raw
    lines, _ = screen(raw)
    # the long name was cut with an ellipsis on the live line, never wrapped
    assert "…" in raw
    # the final screen is the summary: status lines (wrapped) and the report line, last
    assert lines[-1].startswith("report: ")
    assert lines[-1].endswith("index.html") or "index.html" in "".join(lines[-3:])
    text = "\n".join(lines)
    assert "fitting " not in text and "━" not in text
    assert lines[0].startswith(f"  {LONG_NAME[:40]}")
    assert any(line.startswith("  probit: converged") for line in lines)
    assert any(line.startswith("  separated: ") for line in lines)


def test_pipes_get_plain_lines_and_no_progress(spec_file):
    proc = subprocess.run(
        [sys.executable, "-m", "glmspec", "run", str(spec_file), "--out", "piped"],
        cwd=spec_file.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 4  # one status line per model, as scripts read them, and the path
    assert lines[0].startswith(f"  {LONG_NAME}: converged in ")
    assert lines[-1] == f"report: {Path('piped') / 'spector' / 'index.html'}"
