"""Link functions, with R's names and conventions (``stats::make.link``, ``binomial()$linkfun``).

A link maps the mean ``mu`` to the linear predictor ``eta = g(mu)``. Each link provides

* ``link(mu)`` -- ``g(mu)``;
* ``inverse(eta)`` -- ``g^{-1}(eta)`` (R's ``linkinv``), clamped as R clamps it (below);
* ``inverse_exact(eta)`` -- ``g^{-1}(eta)`` without the clamp, for the means results report;
* ``unclamp(eta, mu)`` -- ``mu = inverse(eta)`` with every row the clamp moved set back to
  its exact mean where that lies strictly inside the mean's range, for the likelihood;
* ``mu_eta(eta)`` -- ``d mu / d eta`` (R's ``mu.eta``), used for IRLS weights;
* ``mu_eta_deriv(eta)`` -- ``d^2 mu / d eta^2``, used for the observed information of
  non-canonical links;
* ``valid_eta(eta)`` -- whether a linear predictor lies in the link's domain (R's ``valideta``).

R clamps the inverses of the log and binomial links (``mu >= DBL_EPSILON``, logit's ``eta``
within +-36) so IRLS weights never vanish. glmspec keeps those clamps inside the solver (its
weights, scores and working responses use ``inverse``) and nowhere else: fitted and
predicted means come from ``inverse_exact``, and the deviance and log-likelihood from
``unclamp`` (a mean of exp(-700) is 9.9e-305, not 2.2e-16). Where the exact mean rounds onto
the range's edge (``exp(eta)`` underflows below eta = -745, ``expit(eta)`` is 1.0 above 37)
the likelihood keeps the clamped mean: a finite value where the exact one would be +-inf.

Links are small immutable objects; :func:`get_link` turns a name such as ``"logit"`` or
``"power(0.5)"`` into one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from glmspec.errors import UnknownLinkError, suggest

# R clamps d mu / d eta away from zero with DBL_EPSILON so IRLS weights never vanish.
_TINY = np.finfo(float).eps
# R's logit and cloglog inverses keep mu strictly inside (0, 1) by the same epsilon.
_THRESH = -np.log(_TINY)


class Link:
    """Base class: subclasses implement :meth:`link`, :meth:`inverse` and :meth:`mu_eta`."""

    name: str = "link"
    #: The statsmodels link class (``statsmodels.genmod.families.links``) of the same link.
    statsmodels_name: str = ""

    def statsmodels_link(self) -> Any:
        """The statsmodels link object (statsmodels is imported on first use)."""
        from statsmodels.genmod.families import links

        return getattr(links, self.statsmodels_name)()

    def link(self, mu: np.ndarray) -> np.ndarray:
        """Linear predictor ``g(mu)``."""
        raise NotImplementedError

    def inverse(self, eta: np.ndarray) -> np.ndarray:
        """Mean ``g^{-1}(eta)``."""
        raise NotImplementedError

    def inverse_exact(self, eta: np.ndarray) -> np.ndarray:
        """Mean ``g^{-1}(eta)`` without R's clamp (the same as :meth:`inverse` by default)."""
        return self.inverse(eta)

    #: The open interval of means; ``unclamp`` keeps an exact mean only strictly inside it.
    mean_range: tuple[float, float] = (-np.inf, np.inf)

    def clamped_rows(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray | None:
        """Rows where :meth:`inverse` may differ from :meth:`inverse_exact`; None: no clamp."""
        return None

    def unclamp(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``mu = inverse(eta)`` with the clamped rows at their exact means when finite.

        A row keeps ``mu`` when its exact mean lies on or outside the open ``mean_range``
        (rounded to 0 or 1, overflowed): there the exact likelihood would be infinite.
        Returns ``mu`` itself (no copy) when no row was clamped.
        """
        rows = self.clamped_rows(np.asarray(eta), np.asarray(mu))
        if rows is None or not rows.any():
            return mu
        with np.errstate(all="ignore"):
            exact = self.inverse_exact(np.asarray(eta)[rows])
        low, high = self.mean_range
        out = np.array(mu, dtype=float, copy=True)
        out[rows] = np.where((exact > low) & (exact < high), exact, out[rows])
        return out

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """Derivative ``d mu / d eta`` of the inverse link."""
        raise NotImplementedError

    def mu_eta_deriv(self, eta: np.ndarray) -> np.ndarray:
        """Second derivative ``d^2 mu / d eta^2``, for the observed information."""
        raise NotImplementedError

    def valid_eta(self, eta: np.ndarray) -> bool:
        """Whether every linear predictor is in the link's domain."""
        return bool(np.all(np.isfinite(eta)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Link) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class Identity(Link):
    """``eta = mu``."""

    name = "identity"
    statsmodels_name = "Identity"

    def link(self, mu):
        return np.asarray(mu, dtype=float).copy()

    def inverse(self, eta):
        return np.asarray(eta, dtype=float).copy()

    def mu_eta(self, eta):
        return np.ones_like(eta, dtype=float)

    def mu_eta_deriv(self, eta):
        return np.zeros_like(eta, dtype=float)


class Log(Link):
    """``eta = log(mu)``."""

    name = "log"
    statsmodels_name = "Log"

    def link(self, mu):
        return np.log(mu)

    mean_range = (0.0, np.inf)

    def inverse(self, eta):
        return np.maximum(np.exp(eta), _TINY)

    def inverse_exact(self, eta):
        return np.exp(eta)

    def clamped_rows(self, eta, mu):
        return mu <= _TINY

    def mu_eta(self, eta):
        return np.maximum(np.exp(eta), _TINY)

    def mu_eta_deriv(self, eta):
        return np.maximum(np.exp(eta), _TINY)


class Logit(Link):
    """``eta = log(mu / (1 - mu))``, the canonical binomial link."""

    name = "logit"
    statsmodels_name = "Logit"

    def link(self, mu):
        return special.logit(mu)

    mean_range = (0.0, 1.0)

    def inverse(self, eta):
        eta = np.clip(eta, -_THRESH, _THRESH)
        return special.expit(eta)

    def inverse_exact(self, eta):
        return special.expit(eta)

    def clamped_rows(self, eta, mu):
        return np.abs(eta) >= _THRESH

    def mu_eta(self, eta):
        # expit'(eta) = expit(eta) * expit(-eta), computed without overflow
        return np.maximum(special.expit(eta) * special.expit(-eta), _TINY)

    def mu_eta_deriv(self, eta):
        p, q = special.expit(eta), special.expit(-eta)
        return p * q * (q - p)


class Probit(Link):
    """``eta = Phi^{-1}(mu)``, the standard normal quantile."""

    name = "probit"
    statsmodels_name = "Probit"
    _bound = -special.ndtri(_TINY)

    def link(self, mu):
        return special.ndtri(mu)

    mean_range = (0.0, 1.0)

    def inverse(self, eta):
        return special.ndtr(np.clip(eta, -self._bound, self._bound))

    def inverse_exact(self, eta):
        return special.ndtr(eta)

    def clamped_rows(self, eta, mu):
        return np.abs(eta) >= self._bound

    def mu_eta(self, eta):
        return np.maximum(np.exp(-0.5 * np.square(eta)) / np.sqrt(2 * np.pi), _TINY)

    def mu_eta_deriv(self, eta):
        return -eta * np.exp(-0.5 * np.square(eta)) / np.sqrt(2 * np.pi)


class CLogLog(Link):
    """``eta = log(-log(1 - mu))``, the complementary log-log link."""

    name = "cloglog"
    statsmodels_name = "CLogLog"

    def link(self, mu):
        return np.log(-np.log1p(-np.asarray(mu, dtype=float)))

    mean_range = (0.0, 1.0)

    def inverse(self, eta):
        return np.clip(self.inverse_exact(eta), _TINY, 1 - _TINY)

    def inverse_exact(self, eta):
        return -np.expm1(-np.exp(eta))

    def clamped_rows(self, eta, mu):
        return (mu <= _TINY) | (mu >= 1 - _TINY)

    def mu_eta(self, eta):
        eta = np.minimum(eta, 700.0)
        return np.maximum(np.exp(eta - np.exp(eta)), _TINY)

    def mu_eta_deriv(self, eta):
        eta = np.minimum(eta, 700.0)
        return np.exp(eta - np.exp(eta)) * -np.expm1(eta)


class Cauchit(Link):
    """``eta = tan(pi (mu - 1/2))``, the Cauchy quantile."""

    name = "cauchit"
    statsmodels_name = "Cauchy"
    _bound = -np.tan(np.pi * (_TINY - 0.5))

    def link(self, mu):
        return np.tan(np.pi * (np.asarray(mu, dtype=float) - 0.5))

    mean_range = (0.0, 1.0)

    def inverse(self, eta):
        eta = np.clip(eta, -self._bound, self._bound)
        return 0.5 + np.arctan(eta) / np.pi

    def inverse_exact(self, eta):
        # arctan2(1, -eta) / pi = 1/2 + arctan(eta) / pi, without cancelling for eta << 0
        return np.arctan2(1.0, -np.asarray(eta, dtype=float)) / np.pi

    def clamped_rows(self, eta, mu):
        return np.abs(eta) >= self._bound

    def mu_eta(self, eta):
        return np.maximum(1.0 / (np.pi * (1.0 + np.square(eta))), _TINY)

    def mu_eta_deriv(self, eta):
        return -2.0 * eta / (np.pi * np.square(1.0 + np.square(eta)))


@dataclass(frozen=True, eq=False)
class Power(Link):
    """``eta = mu ** power``; ``power=0`` is the log link, as in R's ``power()``."""

    power: float = 1.0

    @property
    def name(self) -> str:  # type: ignore[override]
        named = {1.0: "identity", -1.0: "inverse", 0.5: "sqrt", -2.0: "inverse_squared"}
        return named.get(float(self.power), f"power({self.power:g})")

    def link(self, mu):
        return np.power(np.asarray(mu, dtype=float), self.power)

    def inverse(self, eta):
        return np.power(np.asarray(eta, dtype=float), 1.0 / self.power)

    def mu_eta(self, eta):
        eta = np.asarray(eta, dtype=float)
        value = np.power(eta, 1.0 / self.power - 1.0) / self.power
        # keep the sign (negative for inverse links) but never exactly zero
        return np.where(value < 0, np.minimum(value, -_TINY), np.maximum(value, _TINY))

    def mu_eta_deriv(self, eta):
        inv = 1.0 / self.power
        return inv * (inv - 1.0) * np.power(np.asarray(eta, dtype=float), inv - 2.0)

    def valid_eta(self, eta):
        eta = np.asarray(eta)
        if not np.all(np.isfinite(eta)):
            return False
        if float(self.power).is_integer() and self.power > 0:
            return True
        return bool(np.all(eta > 0))

    def statsmodels_link(self) -> Any:
        if self.statsmodels_name:
            return super().statsmodels_link()
        from statsmodels.genmod.families import links

        return links.Power(power=self.power)

    def __repr__(self) -> str:
        return f"Power({self.power:g})"


class Inverse(Power):
    """``eta = 1 / mu``, the canonical Gamma link."""

    statsmodels_name = "InversePower"

    def __init__(self) -> None:
        super().__init__(-1.0)

    def valid_eta(self, eta):
        # R's inverse link only excludes eta == 0; the family's valid_mu then rejects mu < 0.
        eta = np.asarray(eta)
        return bool(np.all(np.isfinite(eta)) and np.all(eta != 0))

    def __repr__(self) -> str:
        return "Inverse()"


class Sqrt(Power):
    """``eta = sqrt(mu)``."""

    statsmodels_name = "Sqrt"

    def __init__(self) -> None:
        super().__init__(0.5)

    def __repr__(self) -> str:
        return "Sqrt()"


class InverseSquared(Power):
    """``eta = 1 / mu**2``, the canonical inverse Gaussian link."""

    statsmodels_name = "InverseSquared"

    def __init__(self) -> None:
        super().__init__(-2.0)

    def __repr__(self) -> str:
        return "InverseSquared()"


LINKS: dict[str, type[Link]] = {
    "identity": Identity,
    "log": Log,
    "logit": Logit,
    "probit": Probit,
    "cloglog": CLogLog,
    "cauchit": Cauchit,
    "inverse": Inverse,
    "inverse_squared": InverseSquared,
    "sqrt": Sqrt,
}
_ALIASES = {"1/mu^2": "inverse_squared", "inverse_power": "inverse", "1/mu": "inverse"}
_NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?"
# power(p) with p a decimal number or a fraction such as 1/3 (R's power(1/3))
_POWER = re.compile(rf"^power\(\s*({_NUMBER})\s*(?:/\s*({_NUMBER})\s*)?\)$")


def is_power_spec(link: str) -> bool:
    """Whether ``link`` is written as a power link, ``"power(p)"`` (p a number or fraction)."""
    return bool(_POWER.match(link.strip().lower().replace(" ", "")))


def get_link(link: str | Link) -> Link:
    """Return the link object for a name such as ``"logit"`` or ``"power(1/3)"``.

    Parameters
    ----------
    link : str or Link
        A link name (case-insensitive) or a link object, returned unchanged.

    Returns
    -------
    Link

    Raises
    ------
    UnknownLinkError
        If the name is not a known link; the message lists the known names.
    """
    if isinstance(link, Link):
        return link
    if not isinstance(link, str):
        raise UnknownLinkError(f"link must be a name or a Link object, not {type(link).__name__}.")
    key = link.strip().lower().replace(" ", "")
    if not key.startswith("power("):  # keep the sign of a power: power(-1)
        key = key.replace("-", "_")
    key = _ALIASES.get(key, key)
    if key in LINKS:
        return LINKS[key]()
    match = _POWER.match(key)
    if match:
        power = float(match.group(1))
        if match.group(2) is not None:
            denominator = float(match.group(2))
            if denominator == 0:
                raise UnknownLinkError(f"link {link!r}: the power's denominator is zero.")
            power /= denominator
        if power == 0.0:
            return Log()
        for named in (Identity(), Inverse(), Sqrt(), InverseSquared()):
            if named.name == Power(power).name and not isinstance(named, Identity):
                return named
        return Identity() if power == 1.0 else Power(power)
    names = [*LINKS, "power(p)"]
    if key.startswith("power"):
        raise UnknownLinkError(
            f"unknown link {link!r}; a power link is written power(p) with p a number or a "
            "fraction, e.g. 'power(0.5)' or 'power(1/3)'."
        )
    raise UnknownLinkError(
        f"unknown link {link!r}; known links: {', '.join(names)}.{suggest(key, LINKS)}"
    )
