"""The version is written once, in glmspec/version.py; setup.cfg reads it from there."""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import glmspec

ROOT = Path(__file__).resolve().parent.parent


def test_setup_cfg_takes_the_version_from_the_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["version"] == "attr: glmspec.version.__version__"


def test_the_version_is_a_literal_setuptools_reads_without_importing():
    # setuptools reads attr: statically only from a plain assignment of a literal, so a build
    # needs none of glmspec's dependencies
    tree = ast.parse((ROOT / "glmspec" / "version.py").read_text())
    (value,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
    ]
    assert isinstance(value, ast.Constant) and value.value == glmspec.__version__
