"""Results objects: what :func:`glmspec.fit` returns, built from a fit record and the design.

:mod:`.glm` (``GLMResults``; its ``spec`` is the :class:`~glmspec.options.FitOptions` of the fit),
:mod:`.multinomial`,
:mod:`.summary` (the printed summary and number formatting).
"""
