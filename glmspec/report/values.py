"""Plain Python values for the report's tables and JSON: numbers, labels, the intervals' level."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Significance level of the Wald intervals shown (95% intervals, as ``conf_int()``).
ALPHA = 0.05
#: Confidence level of the intervals, for labels.
LEVEL = 0.95


def number(x: Any) -> float | int | None:
    """A plain Python number (NaN and infinities kept; the JSON writer turns them into null)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    return float(x)


def n_params(res: Any) -> int:
    """Estimated parameters: coefficients plus an estimated dispersion (R's logLik df)."""
    extra = res.family.n_dispersion_params
    return int(np.size(np.asarray(res.params))) + int(extra)


def plain(value: Any) -> Any:
    """Paths as strings, tuples as lists, numbers as Python numbers; others unchanged."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, (float, np.floating, np.integer)) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, (pd.Series, np.ndarray)):
        return "array"
    return value


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
