"""Task runners for a run's county partitions: threads on one machine, Dask for a cluster.

``dask_address``: None for the default thread pool; ``"local"`` for a Dask cluster in
this process (2 thread workers; what the tests use); or a scheduler address such as
``tcp://10.0.0.5:8786`` for a cluster whose workers have Anju installed and reach the
same Prefect API (see README, "A national run on a Dask cluster").
"""
from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner

LOCAL = "local"
THREADS = 4  # partitions matched at once on one machine (pandas releases the GIL in joins and sorts)


def task_runner(dask_address: str | None = None, workers: int = 2):
    if not dask_address:
        return ThreadPoolTaskRunner(max_workers=THREADS)
    from prefect_dask import DaskTaskRunner

    if dask_address == LOCAL:
        # Thread workers: process workers would each start their own temporary Prefect server.
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": False,
                                              "dashboard_address": None})
    return DaskTaskRunner(address=dask_address)

