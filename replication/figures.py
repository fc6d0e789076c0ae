"""The report figures (event studies, trajectories, ATT(g,t) heat map, roll-out) of the
evaluation report.

Usage: ``python replication/figures.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

import argparse

from impact.report.replication import CONFIG, replicate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="replication/output/figures")
    replicate(parser.parse_args().out, spec=CONFIG, tables=[], figures=None, progress=True)
