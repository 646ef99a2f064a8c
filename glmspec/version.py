"""The package version, in one place (``glmspec.__version__``, the report's generator line)."""

__version__ = "0.1.0"
