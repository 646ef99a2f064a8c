"""report.swap loads the C library's renameat2 once, not on every rename."""

from __future__ import annotations

import ctypes
import sys

import pytest

from glmspec.report import swap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_c_library_is_loaded_once(tmp_path, monkeypatch):
    loads = []
    real = ctypes.CDLL

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(swap.ctypes, "CDLL", counting)
    swap._libc_renameat2.cache_clear()
    try:
        for i in range(3):
            (tmp_path / f"a{i}").mkdir()
            # RENAME_NOREPLACE (1) to a free name: renamed, or False where unsupported
            if swap._renameat2(tmp_path / f"a{i}", tmp_path / f"b{i}", 1):
                assert (tmp_path / f"b{i}").is_dir() and not (tmp_path / f"a{i}").exists()
        assert len(loads) == 1
    finally:
        swap._libc_renameat2.cache_clear()  # the next caller loads the real library again
