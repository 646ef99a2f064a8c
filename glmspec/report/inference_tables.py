"""The report's optional inference tables of one model, asked for in the spec's ``[report]``:
profile-likelihood intervals (``intervals = "profile"``), R's ``drop1`` table (``drop1 =
"Chisq"``, ``"LRT"`` or ``"F"``) and estimated marginal means (``emmeans = ["C(f)"]``).

Each table is plain data, as :mod:`glmspec.report.tables`; a table a model cannot have
(profile intervals of a Firth fit, drop1 with aliased columns, ...) is replaced by the reason,
shown as a note, and never fails the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glmspec.errors import GLMSpecError
from glmspec.inference.emmeans import formula_factors, normalise_term
from glmspec.report.values import ALPHA, number


def inference_tables(spec: Any, res: Any) -> dict[str, Any]:
    """``profile`` (or None), ``drop1`` (or None) and ``emmeans`` (a list) of one fitted model.

    Parameters
    ----------
    spec : Spec
        Its ``report_intervals``, ``report_drop1`` and ``report_emmeans`` say what to build.
    res : results
        The model's fit.
    """
    return {
        "profile": _profile(res) if spec.report_intervals == "profile" else None,
        "drop1": _drop1(res, spec.report_drop1) if spec.report_drop1 else None,
        "emmeans": _emmeans(res, spec.report_emmeans),
    }


def _profile(res: Any) -> dict[str, Any]:
    try:
        profile = res.conf_int(alpha=ALPHA, method="profile")
    except GLMSpecError as exc:
        return {"error": str(exc), "rows": []}
    wald = res.conf_int(alpha=ALPHA)
    rows = [
        {
            "term": str(term),
            "lower": number(profile.loc[term].iloc[0]),
            "upper": number(profile.loc[term].iloc[1]),
            "wald_lower": number(wald.loc[term].iloc[0]),
            "wald_upper": number(wald.loc[term].iloc[1]),
        }
        for term in profile.index
    ]
    return {"error": None, "rows": rows}


def _drop1(res: Any, test: str) -> dict[str, Any]:
    try:
        table = res.drop1(test=test)
    except GLMSpecError as exc:
        return {"test": test, "error": str(exc), "columns": [], "rows": []}
    columns = [str(c) for c in table.columns]
    rows = [
        {"term": str(term), "values": [number(v) for v in row.to_numpy(dtype=float)]}
        for term, row in table.iterrows()
    ]
    return {"test": test, "error": None, "columns": columns, "rows": rows}


def _emmeans(res: Any, terms: tuple[str, ...]) -> list[dict[str, Any]]:
    present = {normalise_term(f) for f in formula_factors(res.spec.formula)} if terms else set()
    tables = []
    for term in terms:
        if normalise_term(term) not in present:
            continue  # a term of another model of the spec
        try:
            frame = res.emmeans(term, alpha=ALPHA)
        except GLMSpecError as exc:
            tables.append({"term": term, "error": str(exc), "rows": []})
            continue
        rows = [
            {
                "level": str(level),
                **{k: number(v) for k, v in row.items()},
            }
            for level, row in frame.iterrows()
        ]
        attrs = frame.attrs
        tables.append(
            {
                "term": term,
                "error": None,
                "rows": rows,
                "t_df": number(attrs["df"]) if attrs["df"] is not None else None,
                "averaged_over": list(attrs["averaged_over"]),
                "covariates": {k: number(v) for k, v in attrs["covariates"].items()},
                "offset": number(attrs["offset"]) if np.any(res.design.offset) else None,
            }
        )
    return tables
