"""Tables 1-2 (pre-programme descriptives, roll-out) of the evaluation report.

Usage: ``python replication/tables_descriptive.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

import argparse

from impact.report.replication import CONFIG, replicate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="replication/output/tables_descriptive")
    replicate(
        parser.parse_args().out,
        spec=CONFIG,
        tables=["descriptives", "rollout"],
        figures=[],
        progress=True,
    )
