"""The solvers: arrays in, a frozen fit record out; nothing here knows formulas or results.

:mod:`.engine` holds the row engines (every sum over rows: in memory here, on Dask partitions
in :mod:`glmspec.distributed.engine`), :mod:`.irls` the IRLS / Newton loop, :mod:`.penalized`
the elastic-net fit, :mod:`.negbin` the alternation of theta and coefficients (MASS's
``glm.nb``), and :mod:`.multinomial` with :mod:`.multinomial_rows` and
:mod:`.multinomial_factor` the multinomial logit.
"""
