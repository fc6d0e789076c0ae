"""Tables 5-6 (main results by outcome family and estimator, dynamic effects) of the
evaluation report.

Usage: ``python replication/tables_effects.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group("tables_effects", tables=["main", "dynamic"], figures=[], description=__doc__)
