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


@pytest.fixture(scope="session")
def spark_session():
    """A Spark session for the tests marked ``spark``: classic ``local[2]``, or Spark
    Connect (``SparkSession.builder.remote("local[2]")``, a local Connect server) when
    ``IMPACT_SPARK_CONNECT=1``. Without pyspark the tests skip, unless
    ``IMPACT_REQUIRE_SPARK=1`` (CI), where a missing pyspark fails them."""
    import os

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if os.environ.get("IMPACT_REQUIRE_SPARK") == "1":
            raise
        pytest.skip("pyspark is not installed (pip install '.[spark]')")
    builder = SparkSession.builder
    builder = (
        builder.remote("local[2]")
        if os.environ.get("IMPACT_SPARK_CONNECT") == "1"
        else builder.master("local[2]")
    )
    session = (
        builder.appName("impact-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _spark_for_marked(request):
    """Tests marked ``spark`` run with an active Spark session (engine="spark" uses it)."""
    if request.node.get_closest_marker("spark") is not None:
        request.getfixturevalue("spark_session")
