"""Grading a class: `pool` decides what to grade and writes what comes back;
an executor grades, each submission in a *slot* (`slot`), on this machine
(`local`) or on a Dask cluster (`dask_client` here, `dask_worker` on the
cluster's workers). `outcome`: what an executor hands back for each job.
"""
