"""Tables 1-2 (pre-programme descriptives, roll-out) of the evaluation report.

Usage: ``python replication/tables_descriptive.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group(
        "tables_descriptive", tables=["descriptives", "rollout"], figures=[], description=__doc__
    )
