"""Write tests/reference/data/pretrends_hewang.json (not collected by pytest).

The event study of He & Wang (2017, Figure 2C) shipped with Roth's R package pretrends
(MIT licence, github.com/jonathandroth/pretrends, data/HeAndWangResults.rda at commit
122731d): coefficients, covariance matrix and event times, read from the .rda with the
Python package ``rdata`` (not a test dependency), and the numbers the package's README
prints for them (slope_for_power(targetPower = 0.5), and pretrends() at that slope).

    pip install rdata
    git show 122731d:data/HeAndWangResults.rda > /tmp/hw.rda   # in a clone of pretrends
    .venv/bin/python tests/reference/make_pretrends_hewang.py /tmp/hw.rda
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Printed by the package's README at commit 122731d (R, mvtnorm/tmvtnorm numerics).
README = {
    "slope_for_power_50": 0.05205871,
    "power_at_that_slope": 0.4999776,
    "mean_after_pretesting": {
        "-4": -0.09230764, "-3": -0.05555285, "-2": -0.02790950, "0": 0.06490184,
        "1": 0.12084694, "2": 0.16946498, "3": 0.22453827,
    },
}  # fmt: skip


def main(path: str) -> None:
    import rdata

    res = rdata.conversion.convert(rdata.parser.parse_file(path))["HeAndWangResults"]
    out = {
        "source": "pretrends (J. Roth), data/HeAndWangResults.rda and README.md at 122731d",
        "beta": np.asarray(res["beta"], dtype=float).tolist(),
        "sigma": np.asarray(res["sigma"], dtype=float).tolist(),
        "t": [int(t) for t in np.asarray(res["tVec"], dtype=float)],
        "reference": -1,
        "readme": README,
    }
    (HERE / "data" / "pretrends_hewang.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
