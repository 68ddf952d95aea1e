"""The Connecticut data bundle: build it from raw files, read its layers.

Read layers with :func:`siteopt.bundle.layers.read_layer`; build a bundle with
:func:`siteopt.bundle.build.build_bundle` (or ``siteopt data build``).
"""

from __future__ import annotations
