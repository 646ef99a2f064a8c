"""Results objects: what :func:`glmspec.fit` returns, built from a fit record and the design.

:mod:`.glm` (``GLMResults`` and the option record ``ModelSpec``), :mod:`.multinomial`,
:mod:`.summary` (the printed summary and number formatting).
"""
