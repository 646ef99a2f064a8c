"""What the sub-commands share: reading data files, system errors in one line, status lines."""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from glmspec import datasets
from glmspec.errors import GLMSpecError
from glmspec.spec import FittedModel

#: The report files, in the order the printed path prefers them: the one a person opens.
REPORT_ENTRY_FILES = ("index.html", "index.md", "results.json")


def data_path(source: str) -> Path:
    """A CSV or Parquet path, or the file of a bundled dataset."""
    path = Path(source)
    if path.exists():
        return path.resolve()
    if source in datasets.names():
        return datasets.path(source)
    raise GLMSpecError(
        f"--data {source!r} is neither a readable file nor a bundled dataset "
        f"({', '.join(datasets.names())})."
    )


def read_table(path: Path) -> pd.DataFrame:
    """The data file (CSV, or Parquet by its suffix) as a DataFrame."""
    with doing("read the data file", path):
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)


@contextmanager
def doing(action: str, path: Path | str) -> Iterator[None]:
    """Turn a system error (``[Errno N] ...``) into one line naming the path and the action."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or " ".join(str(exc).split())
        raise GLMSpecError(f"cannot {action} {str(path)!r}: {reason}.") from exc
    except ValueError as exc:  # pandas' parser errors
        raise GLMSpecError(f"cannot {action} {str(path)!r}: {' '.join(str(exc).split())}") from exc


def exit_status(fitted: list[FittedModel]) -> int:
    """0 when every model is fitted, converged and passed its check; else 1."""
    return 0 if all(item.ok for item in fitted) else 1


def status_line(item: FittedModel) -> str:
    """One line per model: convergence, check verdict and warnings."""
    if item.error is not None:
        return f"  {item.entry.name}: FAILED: {item.error}"
    res = item.results
    parts = [f"converged in {res.n_iter} iterations" if res.converged else "NOT converged"]
    if item.check is not None:
        agree = int(item.check["passed"].sum())
        verdict = "passed" if item.check.attrs.get("passed") else "FAILED"
        parts.append(f"statsmodels check {verdict} ({agree}/{len(item.check)} rows agree)")
    elif item.check_error:
        parts.append(f"no statsmodels check: {item.check_error}")
    parts += [f"warning: {w}" for w in item.warnings]
    return f"  {item.entry.name}: " + "; ".join(parts)


def report_entry(folder: Path) -> Path:
    """The report's file to open: ``index.html``, else ``index.md``, else ``results.json``."""
    for name in REPORT_ENTRY_FILES:
        if (folder / name).is_file():
            return folder / name
    return folder


def print_lines(lines: list[str]) -> None:
    """Print to stdout; in a terminal each line is wrapped to its width (words kept whole
    where they fit, a hanging indent after the first line) so nothing overflows. Piped
    output keeps one line per item, as scripts read it."""
    if not sys.stdout.isatty():
        for line in lines:
            print(line)
        return
    width = max(20, shutil.get_terminal_size().columns)
    for line in lines:
        for part in wrap(line, width):
            print(part)


def wrap(line: str, width: int) -> list[str]:
    """``line`` broken at spaces into pieces of at most ``width`` characters; a word longer
    than a line (a path) is cut; continuation lines are indented by four spaces."""
    indent = " " * min(len(line) - len(line.lstrip()) + 4, width // 2)
    return textwrap.wrap(
        line,
        width=width,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
        drop_whitespace=True,
        replace_whitespace=False,
    ) or [""]
