"""Rebuild the whole evaluation report (same as ``impact replicate``).

Usage: ``python replication/run_all.py [--out DIR] [--data FILE] [--spec FILE]``. This
script holds no estimation logic: ``impact.evaluate`` with ``replication/config.toml``.
"""

import sys

from impact.cli import main

if __name__ == "__main__":
    sys.exit(main(["replicate", *sys.argv[1:]]))
