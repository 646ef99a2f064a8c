"""Declarative model specifications: TOML files or dicts in, fitted models out.

:mod:`.format` (keys, types, one model entry, reading data), :mod:`.checks` (validation: every
problem at once) and :mod:`.model` (:class:`Spec`, :func:`load_spec`, fitting a spec's models).
"""

from glmspec.errors import SpecError
from glmspec.spec.format import MODEL_KEYS, OPTION_KEYS, TOP_KEYS, ModelEntry
from glmspec.spec.model import FittedModel, Spec, load_spec

__all__ = [
    "MODEL_KEYS",
    "OPTION_KEYS",
    "TOP_KEYS",
    "FittedModel",
    "ModelEntry",
    "Spec",
    "SpecError",
    "load_spec",
]
