"""Eligibility of candidate sites: the siting rules a scenario applies.

* :mod:`~siteopt.problem.eligibility.buffers`: exclusion rules around (or within) layers;
* :mod:`~siteopt.problem.eligibility.rules`: the layers and exclusion rules of a scenario;
* :mod:`~siteopt.problem.eligibility.where`: ``where`` filters on rule layers;
* :mod:`~siteopt.problem.eligibility.zoning`: district and use status of candidates;
* :mod:`~siteopt.problem.eligibility.transit`: transit access of candidates.
"""
