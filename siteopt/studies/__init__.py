"""Compare scenarios side by side, and test how robust a choice is.

* :mod:`siteopt.studies.compare`: ``siteopt compare`` (table, overlap, map, HTML/CSV/JSON).
* :mod:`siteopt.studies.sweep`: ``siteopt sweep`` (parameter grids and bootstrap replicates,
  solved serially or on a Dask cluster; :mod:`siteopt.studies._work` is all a worker imports).

This package imports nothing on its own, so a Dask worker loads only numpy and the models.
"""
