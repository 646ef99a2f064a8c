"""Plain helpers shared by the test modules (fixtures live in ``conftest.py``).

* :func:`run_cli` runs the ``glmspec`` command line in a subprocess, as a user would.
* :func:`sm_link` names statsmodels' link object for one of glmspec's link names, so a test
  builds the statsmodels counterpart of a model independently of :mod:`glmspec.verify`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import statsmodels.api as sm

_LINKS = sm.families.links

#: statsmodels' link class for each of glmspec's link names ("power(p)" is handled by sm_link)
SM_LINKS = {
    "identity": _LINKS.Identity,
    "log": _LINKS.Log,
    "logit": _LINKS.Logit,
    "probit": _LINKS.Probit,
    "cloglog": _LINKS.CLogLog,
    "cauchit": _LINKS.Cauchy,
    "inverse": _LINKS.InversePower,
    "inverse_squared": _LINKS.InverseSquared,
    "sqrt": _LINKS.Sqrt,
}


def sm_link(link: str) -> sm.families.links.Link:
    """statsmodels' link object for glmspec's link name ``link`` (e.g. "logit", "power(0.5)")."""
    if link.startswith("power("):
        return _LINKS.Power(power=float(link[len("power(") : -1]))
    return SM_LINKS[link]()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m glmspec *args`` in ``cwd`` (text output captured, 300 s timeout)."""
    return subprocess.run(
        [sys.executable, "-m", "glmspec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
