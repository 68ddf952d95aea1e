"""siteopt: exact siting of harm reduction centres from overdose, transit and zoning data."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "locate"]

__version__: str  # made on first use, by __getattr__ below


def __getattr__(name: str) -> Any:
    # ``__version__`` is read from the installed metadata on first use: importing
    # importlib.metadata costs more than the rest of ``siteopt --help``
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("siteopt")
        except PackageNotFoundError:  # running from a source tree without installation
            found = "0.1.0"
        globals()["__version__"] = found
        return found
    if name == "locate":  # the Python API, imported on first use to keep ``siteopt`` light
        import importlib

        module = importlib.import_module("siteopt.locate")
        globals()["locate"] = module
        return module
    raise AttributeError(f"module 'siteopt' has no attribute {name!r}")
