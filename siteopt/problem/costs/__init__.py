"""Demand-candidate costs: Euclidean, street network, user matrices; caching and decay."""

from __future__ import annotations
