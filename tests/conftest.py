import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def s4_panel():
    """A small S4 panel (random selection within cells, dynamic effects, spillovers) and
    its truth, shared by the report tests: 800 firms, seed 11."""
    import warnings

    from impact.datasets import cluster_panel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cluster_panel(n_firms=800, seed=11, scenario="S4")
