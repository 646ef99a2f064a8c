"""Inference from a fit: every function takes a fit and returns numbers, never a results class.

:mod:`.dispersion` (Pearson chi2, dispersion, test distributions), :mod:`.covariance`
(robust sandwich covariances), :mod:`.wald` (Wald tests of constraints and terms),
:mod:`.prediction`, :mod:`.influence`, :mod:`.residuals`, :mod:`.separation` (the linear
program that names separating columns) and :mod:`.anova` (analysis of deviance,
likelihood-ratio tests).
"""
