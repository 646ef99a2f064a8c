"""Simulate ``restaurant_visitors.csv``: lunchtime visitors of a New York restaurant.

The data are drawn from a Poisson GLM with log link whose true coefficients are
:data:`TRUE_COEFFICIENTS`, for the model

    visitors ~ hour + C(weekday) + rain + temperature + event

The keys of :data:`TRUE_COEFFICIENTS` are exactly the design-matrix column names patsy
builds for that formula (weekday levels sort alphabetically, so ``Fri`` is the reference).
The linear predictor is computed from the values *as written to the CSV* (temperature
rounded to 0.1 degree), so a fit on the CSV estimates exactly these coefficients.

Run ``python datasets/make_restaurant_visitors.py`` to (re)write the CSV and the
``restaurant_visitors_truth.json`` file next to this script. The output is byte-identical
from run to run (fixed seed, numpy's PCG64 generator, fixed number formatting).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

SEED = 20261129
START = dt.date(2023, 1, 2)
N_DAYS = 750
HOURS = (11, 12, 13, 14)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FORMULA = "visitors ~ hour + C(weekday) + rain + temperature + event"

#: True coefficients on the log scale, keyed (and ordered) like patsy's design columns.
TRUE_COEFFICIENTS: dict[str, float] = {
    "Intercept": 2.3,
    "C(weekday)[T.Mon]": -0.25,
    "C(weekday)[T.Sat]": 0.2,
    "C(weekday)[T.Sun]": 0.12,
    "C(weekday)[T.Thu]": -0.08,
    "C(weekday)[T.Tue]": -0.15,
    "C(weekday)[T.Wed]": -0.1,
    "hour": 0.1,
    "rain": -0.3,
    "temperature": 0.012,
    "event": 0.35,
}

CSV_NAME = "restaurant_visitors.csv"
TRUTH_NAME = "restaurant_visitors_truth.json"
COLUMNS = ("date", "weekday", "hour", "rain", "temperature", "event", "visitors")


def simulate(seed: int = SEED) -> dict[str, list]:
    """Draw the data set.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict of str to list
        One list per CSV column, in the order of :data:`COLUMNS`; every value is already
        in the form written to the CSV (dates as ISO strings, temperature rounded).
    """
    rng = np.random.default_rng(seed)
    days = [START + dt.timedelta(days=i) for i in range(N_DAYS)]
    n_hours = len(HOURS)

    # Day-level weather and events.
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    # NYC daily mean: about 0.5 C in late January, 25 C in late July.
    seasonal = 12.8 + 12.3 * np.sin(2.0 * np.pi * (doy - 111.0) / 365.25)
    anomaly = rng.normal(0.0, 3.0, N_DAYS)
    wet_day = rng.random(N_DAYS) < 0.3
    event_day = rng.random(N_DAYS) < 0.1

    # Hour-level rows: day-major, hours 11..14 within a day.
    day_idx = np.repeat(np.arange(N_DAYS), n_hours)
    hour = np.tile(np.array(HOURS), N_DAYS)
    rain = (rng.random(day_idx.size) < np.where(wet_day[day_idx], 0.6, 0.03)).astype(int)
    raw_temp = (
        seasonal[day_idx]
        + anomaly[day_idx]
        + 0.6 * (hour - 11)
        - 1.5 * rain
        + rng.normal(0.0, 0.5, day_idx.size)
    )
    # Round exactly as written; "+ 0.0" turns -0.0 into 0.0.
    temperature = np.array([float(f"{t:.1f}") for t in raw_temp]) + 0.0
    event = event_day[day_idx].astype(int)
    weekday = [WEEKDAYS[days[i].weekday()] for i in day_idx]

    c = TRUE_COEFFICIENTS
    eta = (
        c["Intercept"]
        + np.array([c.get(f"C(weekday)[T.{w}]", 0.0) for w in weekday])
        + c["hour"] * hour
        + c["rain"] * rain
        + c["temperature"] * temperature
        + c["event"] * event
    )
    visitors = rng.poisson(np.exp(eta))

    return {
        "date": [days[i].isoformat() for i in day_idx],
        "weekday": weekday,
        "hour": [int(h) for h in hour],
        "rain": [int(r) for r in rain],
        "temperature": [f"{t:.1f}" for t in temperature],
        "event": [int(e) for e in event],
        "visitors": [int(v) for v in visitors],
    }


def write(directory: Path, seed: int = SEED) -> tuple[Path, Path]:
    """Write the CSV and the truth JSON into ``directory``.

    Parameters
    ----------
    directory : pathlib.Path
        Existing folder to write into.
    seed : int
        Seed passed to :func:`simulate`.

    Returns
    -------
    tuple of pathlib.Path
        Paths of the CSV file and of the JSON file.
    """
    directory = Path(directory)
    data = simulate(seed)
    lines = [",".join(COLUMNS)]
    rows = zip(*(data[c] for c in COLUMNS), strict=True)
    lines += [",".join(str(v) for v in row) for row in rows]
    csv_path = directory / CSV_NAME
    csv_path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
    json_path = directory / TRUTH_NAME
    json_path.write_bytes((json.dumps(TRUE_COEFFICIENTS, indent=2) + "\n").encode("ascii"))
    return csv_path, json_path


def main() -> None:
    """Write ``restaurant_visitors.csv`` and its truth JSON next to this script."""
    for p in write(Path(__file__).resolve().parent):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
