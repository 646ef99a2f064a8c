"""Exceptions and warnings raised by glmspec.

Every error a user can trigger with bad input is a subclass of :class:`GLMSpecError`, so
``except glmspec.errors.GLMSpecError`` catches all of them. Messages name the problem and,
where there is one, the column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GLMSpecError(Exception):
    """Base class of every error glmspec raises on purpose."""


class SpecificationError(GLMSpecError, ValueError):
    """An option that does not exist or does not fit the others (family, link, argument)."""


class UnknownFamilyError(SpecificationError):
    """The family name is not one glmspec knows."""


class UnknownLinkError(SpecificationError):
    """The link name is not one glmspec knows, or the family does not allow it."""


class FormulaError(GLMSpecError, ValueError):
    """The formula does not parse or names something the data does not have."""


class DataError(GLMSpecError, ValueError):
    """The data cannot be used as given (empty, wrong type, wrong length)."""


class MissingValueError(DataError):
    """NaN or infinite values in a column the model uses."""


class ResponseError(DataError):
    """The response lies outside the support of the family."""


class SingularDesignError(GLMSpecError, ValueError):
    """The design matrix is rank deficient (exactly collinear columns)."""


class PredictionError(GLMSpecError, ValueError):
    """New data cannot be turned into the fitted model's design (missing column, unseen level)."""


class GLMSpecWarning(UserWarning):
    """Base class of glmspec's warnings."""


class ConvergenceWarning(GLMSpecWarning):
    """The solver stopped before its convergence criterion was met."""


class SeparationWarning(GLMSpecWarning):
    """Complete or quasi-complete separation: some estimates diverge to infinity."""


class DomainWarning(GLMSpecWarning):
    """A value is allowed but unusual for the family (R warns in the same places)."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return a "did you mean" hint naming the closest of ``choices``, or an empty string.

    A choice that differs only in case comes first (``id`` -> ``ID``)."""
    choices = list(choices)
    same = [c for c in choices if str(c).lower() == str(name).lower()]
    close = same or difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


class FitError(GLMSpecError, RuntimeError):
    """The solver could not produce estimates (no valid starting point)."""


class ModelComparisonError(GLMSpecError, ValueError):
    """Models that cannot be compared (not nested, different data or family)."""


class SpecError(GLMSpecError, ValueError):
    """An invalid spec file: the message names the file, the model and the key."""


class ReportTargetError(GLMSpecError):
    """A report cannot be written where asked without destroying what glmspec did not write
    (a user's folder or file, a symbolic link, the input data), or another run holds it."""
