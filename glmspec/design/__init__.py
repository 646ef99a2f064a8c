"""The design layer: formula and data in, response and model matrix out.

:mod:`.build` turns a formula and a DataFrame into a :class:`~glmspec.design.build.Design`
(parsing, missing values, weights and offsets, the response); :mod:`.plan` is the picklable
plan that builds the matrix with numpy from patsy's ``DesignInfo`` (reused for new data and by
every Dask partition); :mod:`.matrix` keeps many-level factors as integer codes
(:class:`~glmspec.design.matrix.CategoricalBlockMatrix`); :mod:`.textcolumns` refuses text
columns of numbers or dates that would silently become factors. Imports only families and
errors.
"""
