"""The synthetic cluster panel at register scale, written as partitioned Parquet in
bounded memory.

One world (regions, sectors, cluster cells and their launch years, DGP.md §1) is drawn
from the seed; the firms are simulated in shards of ``shard_firms`` incumbents, each an
economy of its own in that world with its own random stream (``SeedSequence(seed)``
spawned per shard), written to ``part-00000.parquet``, ``part-00001.parquet``, … and
freed before the next. Firm ids are offset by ``shard * 10^9`` (so ids pass 2^31 from the
third shard). Within a shard the DGP is exactly that of :func:`cluster_panel`; what links
firms across shards (sector means and quantiles of a year) is computed within each shard,
which at 10^5 firms per shard differs from the whole economy's by sampling noise only.
Peak memory is that of one shard (about 2 GB at the default 200,000 firms).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from impact.datasets.cluster.generate import DEFAULT_SEED, _frame
from impact.datasets.cluster.params import scenario_params
from impact.datasets.cluster.simulate import simulate
from impact.datasets.cluster.world import draw_world
from impact.errors import InvalidOptionError, OutputPathError

__all__ = ["FIRM_ID_STRIDE", "write_cluster_panel_parquet"]

#: Firm ids of shard ``s`` start at ``s * FIRM_ID_STRIDE``.
FIRM_ID_STRIDE = 10**9


def write_cluster_panel_parquet(
    directory: str | Path,
    n_firms: int,
    *,
    seed: int = DEFAULT_SEED,
    scenario: str = "default",
    shard_firms: int = 200_000,
    columns: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the cluster panel of about ``n_firms`` incumbents as Parquet shards.

    Parameters
    ----------
    directory : str or Path
        A new or empty folder; the shards are ``part-NNNNN.parquet``.
    n_firms : int
        Incumbents in the first observed year, over all shards.
    seed, scenario
        As :func:`~impact.datasets.cluster.cluster_panel`.
    shard_firms : int
        Incumbents per shard (memory: about 10 kB per firm while a shard is built).
    columns : sequence of str, optional
        Columns to write (default: all of the analysis panel).
    progress : callable, optional
        Called with one line per shard written.

    Returns
    -------
    list of Path
        The shards written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if n_firms < 1 or shard_firms < 1:
        raise InvalidOptionError("n_firms and shard_firms must be positive.")
    out = Path(directory)
    if out.exists() and any(out.iterdir()):
        raise OutputPathError(f"{out} is not empty; write the shards to a new folder.")
    out.mkdir(parents=True, exist_ok=True)
    params = scenario_params(scenario)
    world = draw_world(params, np.random.Generator(np.random.PCG64(seed)))
    n_shards = -(-n_firms // shard_firms)
    streams = np.random.SeedSequence(seed).spawn(n_shards)
    paths = []
    start = time.perf_counter()
    for s, stream in enumerate(streams):
        size = min(shard_firms, n_firms - s * shard_firms)
        sim, _, _ = simulate(params, world, np.random.Generator(np.random.PCG64(stream)),
                             n_firms=size)  # fmt: skip
        frame = _frame(sim, params, consume=True)
        del sim
        frame["firm_id"] = frame["firm_id"].astype(np.int64) + s * FIRM_ID_STRIDE
        if columns is not None:
            frame = frame[list(columns)]
        path = out / f"part-{s:05d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        tmp.replace(path)  # a shard is complete or absent
        paths.append(path)
        if progress is not None:
            progress(f"shard {s + 1}/{n_shards}: {len(frame):,} rows "
                     f"({time.perf_counter() - start:.0f}s)")  # fmt: skip
        del frame
    return paths
