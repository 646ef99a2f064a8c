"""Results of a negative binomial fit: :class:`~glmspec.results.glm.GLMResults` plus theta."""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from glmspec.inference import profile as _profile
from glmspec.results.glm import GLMResults
from glmspec.solvers.negbin import ThetaFit


class NegBinResults(GLMResults):
    """Results of a negative binomial fit: :class:`GLMResults` plus theta.

    Attributes
    ----------
    theta : float
        The shape (fixed or the ML estimate).
    theta_se : float
        Standard error of the estimate (R's ``SE.theta``); NaN when theta was fixed.
    alpha : float
        ``1 / theta``, statsmodels' parametrisation (``Var = mu + alpha mu^2``).
    theta_estimated : bool

    :meth:`theta_conf_int` gives the profile-likelihood interval of an estimated theta.
    """

    def __init__(self, spec, design, family, record, theta_fit: ThetaFit):
        super().__init__(spec, design, family, record, None)
        self.theta_fit = theta_fit

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f" theta={self.theta:.6g}>"

    @property
    def theta(self) -> float:
        """Negative binomial shape theta (``Var(y) = mu + mu^2 / theta``)."""
        return self.theta_fit.theta

    @property
    def theta_se(self) -> float:
        """Standard error of theta from its observed information (NaN when fixed)."""
        return self.theta_fit.se

    @property
    def theta_estimated(self) -> bool:
        """Whether theta was estimated (glm.nb) rather than fixed by the user."""
        return self.theta_fit.estimated

    @property
    def alpha(self) -> float:
        """statsmodels' ``alpha = 1 / theta``."""
        return 1.0 / self.theta

    def theta_conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """Profile-likelihood interval of theta (``inf`` as upper limit when the Poisson is
        inside it); see :func:`glmspec.inference.profile.theta_profile_interval`."""
        self._full_rank_only("theta_conf_int", refits=True, aliased_ok=True)
        return _profile.theta_profile_interval(self, alpha)

    @cached_property
    def theta_history(self) -> pd.DataFrame:
        """One row per round of the alternation: ``round``, ``theta``, ``llf``."""
        return pd.DataFrame(list(self.theta_fit.history), columns=["round", "theta", "llf"])
