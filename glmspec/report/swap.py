"""Put a finished report folder at its target without ever destroying what glmspec did not write.

A report is built in a staging folder next to its target (same file system) and published by
:func:`publish`:

* The target is replaced only when it is a glmspec report: a folder holding the
  :data:`MARKER` file written with every report, or a report of an older glmspec recognised by
  its ``results.json`` signature and holding nothing else glmspec does not write. A plain
  file or a symbolic link at the target is always refused; any other folder only with
  ``force=True`` (``--force``). A folder that holds the spec's input data (or one of its
  parents), the working directory or the home folder (or one of their parents), and a hidden
  name such as ``.ssh`` are refused even with ``force``.
* Crash safety: on Linux the staging folder and the target are swapped with one
  ``renameat2(RENAME_EXCHANGE)``, so a SIGKILL at any moment leaves the old or the new complete
  report at the target; elsewhere the old report is renamed aside first and the next run puts
  it back if a crash came between the two renames. Staging and backup folders left by a killed
  run are removed by the next run: only folders named like glmspec's own, not in use by a
  live run (a live run holds an ``flock`` on its staging folder) and holding the marker (or
  nothing at all).
* Concurrent runs to one target take turns on an ``flock`` on ``.<name>.glmspec-lock`` next
  to the target (removed when the run ends). A run waits up to :data:`LOCK_WAIT` seconds for
  the other to finish publishing (publishing takes well under a second; building the report,
  the slow part, runs outside the lock) and otherwise fails with one line naming the target.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from glmspec.errors import ReportTargetError

try:  # flock is POSIX; without it concurrent runs are not serialised (documented)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: File written into every report folder; its presence makes the folder glmspec's to replace.
MARKER = ".glmspec-report"
#: Contents of :data:`MARKER`; the format number changes when the layout of a report does.
MARKER_TEXT = "glmspec report\nformat 1\n"
#: Seconds a run waits for another run publishing to the same target.
LOCK_WAIT = 60.0
#: Files a report of an older glmspec (without the marker) may hold.
_LEGACY_FILES = frozenset({"index.html", "index.md", "results.json", "plots"})
_STAGING = "glmspec-staging-"
_BACKUP = "glmspec-backup-"
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _checkpoint(label: str) -> None:
    """Called at each step of publishing; the crash tests replace it to SIGKILL the process."""


def staging_name(name: str) -> str:
    """Prefix of the staging folders of the report folder ``name``."""
    return f".{name}.{_STAGING}"


def lock_name(name: str) -> str:
    """Name of the lock file of the report folder ``name`` (next to it)."""
    return f".{name}.glmspec-lock"


def check_folder_name(name: str) -> None:
    """Refuse a report folder name that is not one plain, visible path component."""
    if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise ReportTargetError(f"report folder name {name!r} is not a single folder name.")
    if name.startswith("."):
        raise ReportTargetError(
            f"report folder name {name!r} starts with '.'; glmspec does not write reports to "
            "hidden folders (such as .ssh). Rename the spec or choose another report folder."
        )


def is_report(path: Path) -> bool:
    """Whether ``path`` is a folder glmspec wrote: the marker, or an older report's signature."""
    if path.is_symlink() or not path.is_dir():
        return False
    marker = path / MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            return marker.read_text(encoding="utf-8").startswith("glmspec report\n")
        except (OSError, UnicodeDecodeError):
            return False
    return _is_legacy_report(path)


def _is_legacy_report(path: Path) -> bool:
    """A report of glmspec before the marker: only its files, and its ``results.json``."""
    try:
        entries = list(os.scandir(path))
        if {e.name for e in entries} - _LEGACY_FILES or "results.json" not in {
            e.name for e in entries
        }:
            return False
        for entry in entries:
            if entry.is_symlink() or entry.is_dir() != (entry.name == "plots"):
                return False
        plots = path / "plots"
        if plots.exists() and not all(
            e.is_file(follow_symlinks=False) and e.name.endswith(".png") for e in os.scandir(plots)
        ):
            return False
        doc = json.loads((path / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(doc, dict)
        and str(doc.get("generator", "")).startswith("glmspec ")
        and {"models", "comparison"} <= set(doc)
    )


def check_target(target: Path, inputs: Iterable[Path | str] = (), force: bool = False) -> None:
    """Raise :class:`ReportTargetError` unless a report may be written at ``target``.

    Parameters
    ----------
    target : Path
        The report folder: an absolute path whose parent is already resolved.
    inputs : iterable of path
        Files the report is made from (spec file, data files); ``target`` may not hold any.
    force : bool
        Allow replacing an existing folder that is not a glmspec report.
    """
    for source in inputs:
        real = Path(os.path.realpath(source))
        if real.is_relative_to(target):
            raise ReportTargetError(
                f"refusing to write the report to {target}: that folder holds the spec's input "
                f"data ({real}); choose another report folder (--out). --force does not change "
                "this."
            )
    home = Path(os.path.realpath(os.path.expanduser("~")))
    for what, place in (("your home folder", home), ("the working directory", Path.cwd())):
        if Path(os.path.realpath(place)).is_relative_to(target):
            raise ReportTargetError(
                f"refusing to write the report to {target}: it is {what} or one of its parents; "
                "choose another report folder (--out). --force does not change this."
            )
    if target.is_symlink():
        raise ReportTargetError(
            f"refusing to replace {target}: it is a symbolic link, and glmspec never replaces "
            "a link or what it points to; remove it yourself or choose another report folder "
            "(--out)."
        )
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise ReportTargetError(
            f"refusing to replace {target}: it is a file, not a glmspec report; remove it "
            "yourself or choose another report folder (--out)."
        )
    if not force and not is_report(target):
        raise ReportTargetError(
            f"refusing to replace {target}: it is a folder glmspec did not write (no {MARKER} "
            "file); choose another report folder (--out), or pass --force (force=True) to "
            "replace it and delete its contents."
        )


@contextmanager
def staging_folder(root: Path, name: str) -> Iterator[Path]:
    """A fresh, marked staging folder in ``root``, held (``flock``) until the block ends.

    The folder is deleted when the block raises; after a normal exit it is either published
    (gone) or left to :func:`publish`'s cleanup.
    """
    path = _fresh(root, staging_name(name))
    os.mkdir(path)
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a file system without flock: the lock is only a courtesy here
                pass
        (path / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        yield path
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        os.close(handle)


def publish(
    staging: Path, target: Path, inputs: Iterable[Path | str] = (), force: bool = False
) -> None:
    """Swap the finished ``staging`` folder into ``target`` (see the module docstring).

    Raises
    ------
    glmspec.errors.ReportTargetError
        The target may not be replaced, another run holds it too long, or the file system
        refused a rename; the previous report (or folder) at ``target`` is then unchanged.
    """
    inputs = list(inputs)
    _checkpoint("staged")
    with _target_lock(target):
        _checkpoint("locked")
        try:
            _clean_leftovers(target, keep=staging)
            check_target(target, inputs, force)
            _swap(staging, target)
        except OSError as exc:
            raise ReportTargetError(
                f"could not move the new report into place at {target}: "
                f"{exc.strerror or exc}; the previous contents are unchanged."
            ) from exc


def _swap(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, atomically exchanging an existing target."""
    if not os.path.lexists(target):
        if not _renameat2(staging, target, _RENAME_NOREPLACE):
            os.rename(staging, target)
        _checkpoint("renamed")
        return
    if _renameat2(staging, target, _RENAME_EXCHANGE):
        _checkpoint("exchanged")
        _remove_old(staging)
        return
    backup = _fresh(target.parent, f".{target.name}.{_BACKUP}")
    os.rename(target, backup)
    _checkpoint("moved-aside")
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    _checkpoint("renamed")
    _remove_old(backup)


def _remove_old(path: Path) -> None:
    """Delete the replaced report (now at a name of glmspec's own), never following links."""
    shutil.rmtree(path, ignore_errors=True)


def _fresh(root: Path, prefix: str) -> Path:
    """A path in ``root`` that does not exist yet."""
    while True:
        candidate = root / f"{prefix}{uuid.uuid4().hex[:12]}"
        if not os.path.lexists(candidate):
            return candidate


@functools.cache
def _libc_renameat2() -> Any:
    """The C library's ``renameat2`` with its argument types, loaded once; None off Linux and
    with a C library older than glibc 2.28."""
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where the OS or file system lacks it."""
    function = _libc_renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or file system
        return False
    raise OSError(code, os.strerror(code), str(src), None, str(dst))


@contextmanager
def _target_lock(target: Path) -> Iterator[None]:
    """Hold the ``flock`` of ``target``'s lock file; wait up to :data:`LOCK_WAIT` seconds."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = target.parent / lock_name(target.name)
    deadline = time.monotonic() + LOCK_WAIT
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            handle = os.open(path, flags, 0o644)
        except OSError as exc:
            raise ReportTargetError(
                f"cannot create the lock file {path} for the report {target}: "
                f"{exc.strerror or exc}."
            ) from exc
        if not _flock_until(handle, deadline):
            os.close(handle)
            raise ReportTargetError(
                f"another glmspec run is writing {target}; try again when it finishes."
            )
        # the previous holder removes the file when it is done: lock the file now at the path
        try:
            same = os.path.samestat(os.stat(path, follow_symlinks=False), os.fstat(handle))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)
    try:
        yield
    finally:
        try:
            os.unlink(path)
        finally:
            os.close(handle)


def _flock_until(handle: int, deadline: float) -> bool:
    """Take an exclusive ``flock`` on ``handle``, polling until ``deadline``."""
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        except OSError as exc:  # e.g. ENOLCK on a file system without locks
            raise ReportTargetError(
                f"cannot lock the report folder's lock file: {exc.strerror or exc}."
            ) from exc


def _clean_leftovers(target: Path, keep: Path) -> None:
    """Put back a report a crash left renamed aside, and remove stale staging/backup folders.

    Runs under the target's lock, so no live run is publishing; live runs still building hold
    an ``flock`` on their staging folder and are skipped. Only folders named like glmspec's
    own that hold the marker (or nothing) are deleted.
    """
    parent, name = target.parent, target.name
    backups = sorted(parent.glob(f".{name}.{_BACKUP}*"), key=lambda p: p.stat().st_mtime)
    if backups and not os.path.lexists(target):
        # a crash between the fallback's two renames: the newest backup is the old report
        os.rename(backups.pop(), target)
    for path in [*backups, *parent.glob(f"{staging_name(name)}*")]:
        if path == keep or path.is_symlink() or not path.is_dir():
            continue
        _remove_if_stale(path)


def _remove_if_stale(path: Path) -> None:
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a live run is building it
        if is_report(path):
            shutil.rmtree(path, ignore_errors=True)
        elif not any(os.scandir(path)):
            os.rmdir(path)
    finally:
        os.close(handle)
