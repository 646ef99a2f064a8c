"""Inference from a fit: every function takes a fit and returns numbers, never a results class.

:mod:`.dispersion` (Pearson chi2, dispersion, test distributions), :mod:`.covariance`
(robust sandwich covariances), :mod:`.wald` (Wald tests of constraints and terms),
:mod:`.prediction`, :mod:`.influence`, :mod:`.residuals`, :mod:`.separation` (the linear
program that names separating columns), :mod:`.anova` (analysis of deviance,
likelihood-ratio tests) and :mod:`.applicability` (which fits a computation applies to).
"""
