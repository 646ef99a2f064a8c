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
from glmspec.inference.anova import anova as _anova
from glmspec.inference.anova import lrtest
from glmspec.report.regression_table import regression_table
from glmspec.results.display import shown_as_r
from glmspec.verify.statsmodels import compare as _compare
from glmspec.version import __version__

# the tables print as R's (p-values "< 2e-16", one layout per column), also in Jupyter
anova = shown_as_r(na="")(_anova)
compare = shown_as_r(digits=10)(_compare)  # a check shows the digits it compares

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
