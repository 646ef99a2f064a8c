"""The flags of ``glmspec fit``: one per fit option a spec takes, and fit errors in the
command line's words. Kept apart from :mod:`glmspec.cli.commands` so that building the parser
does not load the report writer (matplotlib, jinja2), which ``glmspec predict`` never uses.
"""

from __future__ import annotations

import argparse
import re

from glmspec.spec.format import OPTION_KEYS, OPTION_TYPES

#: Help of the fit options' flags; an option without an entry still gets its flag.
OPTION_HELP = {
    "family": "gaussian (default), binomial, poisson, gamma, negative_binomial, ...",
    "link": "link name, or power(p) (default: the family's canonical link)",
    "weights": "column of prior weights (R's weights)",
    "offset": "column added to the linear predictor",
    "missing": "raise (default) or drop rows with missing values",
    "max_iter": "iteration limit of the solver (default 100)",
    "tol": "convergence tolerance (default 1e-8)",
    "freq_weights": "column of frequency weights (a row stands for that many rows)",
    "exposure": "column whose log is added to the linear predictor (log-link counts)",
    "theta": "negative binomial theta, fixed (default: estimated by ML)",
    "var_power": "Tweedie variance power in (1, 2)",
    "cov_type": "nonrobust (default), HC0, HC1, HC2, HC3 or cluster",
    "groups": "column of cluster labels for --cov-type cluster",
    "penalty": "l2 or elastic_net (no standard errors then)",
    "alpha": "penalty strength (with --penalty)",
    "l1_ratio": "elastic net mixing in [0, 1] (with --penalty elastic_net)",
    "singular": "error (default) or drop aliased columns as R's glm",
    "method": "ml (default) or firth",
}


def flag_name(key: str) -> str:
    """The command-line flag of a spec/fit() option: ``max_iter`` -> ``--max-iter``."""
    return "--" + key.replace("_", "-")


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per fit option a spec accepts (:data:`glmspec.spec.format.OPTION_KEYS`),
    typed as the spec types it, so that ``glmspec fit`` takes what a spec file takes and
    the two cannot drift. A flag left out leaves the option at the spec's default."""
    for key in OPTION_KEYS:
        parser.add_argument(
            flag_name(key),
            dest=key,
            type=OPTION_TYPES.get(key, str),
            default=None,
            help=OPTION_HELP.get(key, f"the fit() option {key} (see glmspec.fit)"),
        )


def cli_words(text: str) -> str:
    """A fit error in the command line's words: ``missing='drop'`` -> ``--missing drop``."""
    words = re.compile(rf"\b({'|'.join(OPTION_KEYS)})=(?:'([^']*)')?")

    def flag(match: re.Match) -> str:
        value = "" if match[2] is None else f" {match[2]}"
        return f"{flag_name(match[1])}{value}"

    return words.sub(flag, text)
