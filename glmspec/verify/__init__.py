"""Verification against a reference implementation: :mod:`.statsmodels` (``glmspec.compare``)."""
