"""Table 12 (HonestDiD sensitivity of each family's headline effect: breakdown Mbar, sets at
Mbar = 0.5, 1, 2, the smoothness FLCI at M = 0) and its figure, of the evaluation report.

Usage: ``python replication/table_sensitivity.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group(
        "table_sensitivity", tables=["sensitivity"], figures=["sensitivity"], description=__doc__
    )
