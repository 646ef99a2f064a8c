"""Shared test setup: the Hypothesis profiles, loaded by pytest before every test module.

* ``ci``: deterministic (``derandomize=True``, no example database), 25 examples per test, no
  deadline, failing examples printed as reproducible blobs. Loaded whenever the ``CI``
  environment variable is set to anything but "", "0", "false" or "no" (CI runs with
  ``CI=true``), so CI sees the same examples on every run.
* ``dev`` (the default): random examples, 25 per test, no deadline; failures are replayed from
  the local ``.hypothesis`` database.
* ``thorough``: 500 random examples per test, for hunting rare failures by hand.

``HYPOTHESIS_PROFILE=<name>`` overrides the choice, e.g.
``HYPOTHESIS_PROFILE=thorough python -m pytest tests/end_to_end/test_properties.py``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import glmspec

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


#: Thread settings that Dask's LocalCluster writes into the environment of the process that
#: starts it (``distributed.nanny.pre-spawn-environ``) and leaves there.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Their values when the session started.
_SESSION_THREADS = {name: os.environ.get(name) for name in _THREAD_VARIABLES}


@pytest.fixture(autouse=True)
def _thread_environment_unchanged():
    """Restore the BLAS thread variables to the session's after every test.

    A test that starts a Dask cluster would otherwise make every later command-line test's
    subprocess run BLAS on one thread while the test process runs it on its default threads:
    a different summation order, so the subprocess's numbers differ from the in-process fit's
    in the last bit and the tests comparing them exactly fail depending on which ran first.
    (A cluster kept by a module-scoped fixture is started before this fixture's test, hence
    the session's values rather than the test's.)
    """
    yield
    for name, value in _SESSION_THREADS.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def visitors_data():
    """The bundled restaurant visitors data (a DataFrame; do not modify it)."""
    return glmspec.datasets.load("restaurant_visitors")


@pytest.fixture(scope="session")
def anes_arrays():
    """anes96 for the multinomial solver: class codes, design matrix and column names of
    ``PID ~ logpopul + selfLR + age + educ + income``."""
    import patsy

    df = glmspec.datasets.load("anes96")
    y, X = patsy.dmatrices(
        "PID ~ logpopul + selfLR + age + educ + income", df, return_type="dataframe"
    )
    return y.to_numpy()[:, 0].astype(int), X.to_numpy(), list(X.columns)
