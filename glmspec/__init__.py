"""glmspec: declarative generalized linear models, fitted by our own solver and verified.

>>> import glmspec
>>> df = glmspec.datasets.load("restaurant_visitors")
>>> res = glmspec.fit("visitors ~ hour + C(weekday) + rain", data=df, family="poisson")
>>> res.converged
True
"""

from glmspec import datasets, errors
from glmspec.api import fit
from glmspec.arrays import fit_arrays
from glmspec.inference.anova import anova, lrtest
from glmspec.report.regression_table import regression_table
from glmspec.verify.statsmodels import compare
from glmspec.version import __version__

__all__ = [
    "__version__",
    "anova",
    "compare",
    "datasets",
    "errors",
    "fit",
    "fit_arrays",
    "lrtest",
    "regression_table",
]
