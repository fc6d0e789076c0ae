"""Tables 5-6 (main results by outcome family and estimator, dynamic effects) of the
evaluation report.

Usage: ``python replication/tables_effects.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

import argparse

from impact.report.replication import CONFIG, replicate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="replication/output/tables_effects")
    replicate(
        parser.parse_args().out, spec=CONFIG, tables=["main", "dynamic"], figures=[], progress=True
    )
