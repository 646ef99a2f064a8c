"""Hypothesis profiles for glmspec's property tests; imported by the test modules that use them.

* ``ci``: deterministic (``derandomize=True``, no example database), 25 examples per test, no
  deadline, failing examples printed as reproducible blobs. Loaded whenever the ``CI``
  environment variable is set to anything but "", "0", "false" or "no" (CI runs with
  ``CI=true``), so CI sees the same examples on every run.
* ``dev`` (the default): random examples, 25 per test, no deadline; failures are replayed from
  the local ``.hypothesis`` database.
* ``thorough``: 500 random examples per test, for hunting rare failures by hand.

``HYPOTHESIS_PROFILE=<name>`` overrides the choice, e.g.
``HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_properties.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=25, print_blob=True, **_COMMON
)
settings.register_profile("dev", max_examples=25, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=500, print_blob=True, **_COMMON)


def profile_name() -> str:
    """The profile to load: ``$HYPOTHESIS_PROFILE``, else "ci" when ``$CI`` is set, else "dev"."""
    explicit = os.environ.get("HYPOTHESIS_PROFILE", "").strip()
    if explicit:
        return explicit
    ci = os.environ.get("CI", "").strip().lower()
    return "ci" if ci not in ("", "0", "false", "no") else "dev"


PROFILE = profile_name()
settings.load_profile(PROFILE)
