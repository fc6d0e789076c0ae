"""Rebuild every table of the replication report (same as ``impact replicate``).

Usage: ``python replication/run_all.py [--out DIR]``. This script holds no estimation
logic: the tables are defined through the public API in ``impact.report.replication``.
"""

import sys

from impact.cli import main

if __name__ == "__main__":
    sys.exit(main(["replicate", *sys.argv[1:]]))
