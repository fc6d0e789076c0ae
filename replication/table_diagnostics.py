"""Table 11 (what static TWFE averages: Goodman-Bacon shares, the gap to Callaway-Sant'Anna,
negative weights) of the evaluation report.

Usage: ``python replication/table_diagnostics.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group("table_diagnostics", tables=["diagnostics"], figures=[], description=__doc__)
