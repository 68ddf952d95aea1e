"""The console-script entry point: signals first, then the (heavier) command line.

``siteopt`` starts here so that Ctrl-C or SIGTERM at any moment, even while Python is still
importing the command line, ends the run with one line and exit code 1, never a traceback,
and so that SIGTERM unwinds like Ctrl-C: the output writer then leaves earlier outputs intact
and removes its temporary folders.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

INTERRUPTED = "Error: interrupted; earlier outputs were left untouched.\n"


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run ``siteopt`` with SIGTERM handled like Ctrl-C."""
    signal.signal(signal.SIGTERM, _terminate)
    debug = "--debug" in sys.argv[1:]
    try:
        from siteopt.cli.main import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        if debug:
            raise
        # click turns Ctrl-C inside a command into an exit; this is Ctrl-C outside of one
        sys.stderr.write(INTERRUPTED)
        sys.exit(1)


if __name__ == "__main__":
    main()
