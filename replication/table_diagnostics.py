"""Table 11 (what static TWFE averages: Goodman-Bacon shares, the gap to Callaway-Sant'Anna,
negative weights) of the evaluation report.

Usage: ``python replication/table_diagnostics.py [--out DIR]``. Only calls the public API with
``replication/config.toml``; ``impact replicate`` builds every group at once (same bytes).
"""

import argparse

from impact.report.replication import CONFIG, replicate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="replication/output/table_diagnostics")
    replicate(
        parser.parse_args().out, spec=CONFIG, tables=["diagnostics"], figures=[], progress=True
    )
