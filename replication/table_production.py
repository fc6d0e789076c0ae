"""Table 10 (production function by method) of the evaluation report.

Usage: ``python replication/table_production.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

import argparse

from impact.report.replication import CONFIG, replicate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="replication/output/table_production")
    replicate(
        parser.parse_args().out, spec=CONFIG, tables=["production"], figures=[], progress=True
    )
