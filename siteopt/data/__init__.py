"""The Connecticut data bundle: build it from raw files, read its layers.

Read layers with :func:`siteopt.data.layers.read_layer`; build a bundle with
:func:`siteopt.data.build.build_bundle` (or ``siteopt data build``).
"""

from __future__ import annotations
