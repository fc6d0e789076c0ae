"""Table 13 (each family's headline effect with Holm, Romano–Wolf and BKY-adjusted
p-values, and wild bootstrap-t p-values when the spec's cluster variable has few
clusters) of the evaluation report.

Usage: ``python replication/table_multiplicity.py [--out DIR]``. Only calls the public API
with ``replication/config.toml``; ``impact replicate`` builds every group at once (same
bytes).
"""

from impact.report.replication import run_group

if __name__ == "__main__":
    run_group("table_multiplicity", tables=["multiplicity"], figures=[], description=__doc__)
