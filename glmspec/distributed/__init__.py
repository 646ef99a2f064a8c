"""The Dask engine: the same fit, results and report for data in Dask partitions.

``glmspec.fit(formula, data=ddf, ...)`` with a Dask DataFrame comes here (Dask is imported
only then: ``pip install glmspec[dask]``). The design is learned once on the client
(:mod:`.design`), every sum over rows is computed partition by partition on the workers and
reduced (:mod:`.engine`), and the loop, convergence test and inference are the in-memory
code (:func:`glmspec.solvers.irls.irls`). Results: :mod:`.results`.
"""
