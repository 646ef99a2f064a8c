"""tools/check_layout.py: the package passes it, and it catches each kind of problem.

The checker is run on small fake packages written to ``tmp_path``: a cycle made only by an
import inside a function, a private cross-module import, an oversize module, a layer
violation, a module no layer claims, a module-level import of the lazy engine and too many
top-level modules are each reported, and so is code outside the families' home that compares
with a registered family name; the clean fake package passes.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_checker():
    path = ROOT / "tools" / "check_layout.py"
    spec = importlib.util.spec_from_file_location("check_layout", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layout"] = module
    spec.loader.exec_module(module)
    return module


check_layout = _load_checker()

LAYERS = (
    ("base", ("pkg.errors",)),
    ("core", ("pkg.core",)),
    ("top", ("pkg.api", "pkg.engine", "pkg")),
)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``pkg`` with the given modules (path -> source) under ``tmp_path``."""
    base = {
        "pkg/__init__.py": "from pkg.api import run\n",
        "pkg/errors.py": "class Error(Exception):\n    pass\n",
        "pkg/core/__init__.py": "",
        "pkg/core/a.py": "from pkg.errors import Error\n\n\ndef public():\n    return Error\n",
        "pkg/core/b.py": "from pkg.core.a import public\n",
        "pkg/core/registry.py": (
            'FAMILIES = {"binomial": 1, "poisson": 2}\n_ALIASES = {"logistic": 1}\n'
        ),
        "pkg/api.py": "from pkg.core import b\n\n\ndef run():\n    return b\n",
        "pkg/engine.py": "from pkg.api import run\n",
    }
    base.update(files)
    for name, source in base.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return tmp_path


def _check(root: Path, **kwargs) -> list[str]:
    options = dict(
        package="pkg",
        layers=LAYERS,
        max_lines=30,
        max_top=5,
        lazy_package="pkg.engine",
        family_home="pkg.core",
    )
    options.update(kwargs)
    return check_layout.check(root, **options)


def test_the_package_passes():
    assert check_layout.check(ROOT) == []


def test_clean_fake_package_passes(tmp_path):
    assert _check(_package(tmp_path, {})) == []


def test_a_cycle_through_a_function_local_import_is_caught(tmp_path):
    lazy = "def late():\n    from pkg.core.b import public\n    return public\n"
    problems = _check(_package(tmp_path, {"pkg/core/a.py": lazy}))
    cycle = "import cycle: pkg.core.a -> pkg.core.b -> pkg.core.a"
    assert any(p.startswith(cycle) for p in problems)


def test_a_relative_import_cycle_is_caught(tmp_path):
    problems = _check(_package(tmp_path, {"pkg/core/a.py": "from . import b\n"}))
    assert any(p.startswith("import cycle:") and "pkg.core.b" in p for p in problems)


def test_a_private_cross_module_import_is_caught(tmp_path):
    files = {
        "pkg/core/a.py": "def _helper():\n    return 1\n",
        "pkg/core/b.py": "from pkg.core.a import _helper\n",
    }
    problems = _check(_package(tmp_path, files))
    assert problems == ["pkg.core.b:1: imports private _helper from pkg.core.a"]


def test_an_oversize_module_is_caught(tmp_path):
    long = "X = 1\n" * 31
    problems = _check(_package(tmp_path, {"pkg/errors.py": long}))
    assert problems == ["pkg.errors: 31 lines, over the limit of 30"]


def test_an_import_of_a_later_layer_is_caught(tmp_path):
    problems = _check(_package(tmp_path, {"pkg/core/a.py": "def f():\n    import pkg.api\n"}))
    assert "pkg.core.a:2: layer 'core' imports pkg.api of the later layer 'top'" in problems


def test_a_module_without_a_layer_is_caught(tmp_path):
    problems = _check(_package(tmp_path, {"pkg/stray.py": ""}))
    assert problems == ["pkg.stray: no layer claims this module (add it to LAYERS)"]


def test_the_lazy_engine_imported_at_module_level_is_caught(tmp_path):
    problems = _check(_package(tmp_path, {"pkg/api.py": "import pkg.engine\n"}))
    assert any("imports the optional pkg.engine at module level" in p for p in problems)


def test_too_many_top_level_modules_are_caught(tmp_path):
    problems = _check(_package(tmp_path, {}), max_top=1)
    assert problems == ["pkg: 3 modules at the top, over the limit of 1 (api, engine, errors)"]


@pytest.mark.parametrize(
    "source, line, found",
    [
        ("def run(kind):\n    return kind == 'binomial'\n", 2, "compares with the family name"),
        (
            "def run(kind):\n    if kind not in ('x', 'logistic'):\n        return 1\n",
            2,
            "'logistic'",
        ),
        ("def run(f):\n    return 'poisson' != f.name\n", 2, "'poisson'"),
        ("LABELS = {'binomial': 'odds', 'poisson': 'rate'}\n", 1, "a dict keyed by family names"),
    ],
)
def test_a_family_name_switch_outside_the_families_is_caught(tmp_path, source, line, found):
    problems = _check(_package(tmp_path, {"pkg/api.py": source}))
    assert len(problems) == 1 and problems[0].startswith(f"pkg.api:{line}: ")
    assert found in problems[0]


def test_family_names_may_be_compared_inside_the_families_and_other_strings_anywhere(tmp_path):
    files = {
        "pkg/core/a.py": "def f(kind):\n    return kind == 'binomial'\n",
        "pkg/api.py": "def run(kind):\n    return kind in ('normal', 'other') or kind == 'dask'\n",
    }
    assert _check(_package(tmp_path, files)) == []


@pytest.mark.parametrize("argv, status", [([], 0), (["--max-lines", "1"], 1)])
def test_command_line_exit_status(argv, status):
    assert check_layout.main(argv) == status
