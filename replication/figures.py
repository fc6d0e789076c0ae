"""The report figures (event studies, trajectories, ATT(g,t) heat map, roll-out) of the
evaluation report.

Usage: ``python replication/figures.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group("figures", tables=[], figures=None, description=__doc__)
