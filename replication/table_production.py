"""Table 10 (production function by method) of the evaluation report.

Usage: ``python replication/table_production.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group("table_production", tables=["production"], figures=[], description=__doc__)
