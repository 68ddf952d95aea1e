"""The console-script entry point: signals first, then the (heavier) command line.

``siteopt`` starts here so that Ctrl-C or SIGTERM at any moment, even while Python is still
importing the command line, ends the run with one line and exit code 1, never a traceback,
and so that SIGTERM unwinds like Ctrl-C: the output writer then leaves earlier outputs intact
and removes its temporary folders.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from siteopt.cli import signals

INTERRUPTED = "Error: interrupted; earlier outputs were left untouched.\n"


#: set by a command that finished its work (``solve``): the process then ends without Python's
#: shutdown, which clears ~1,400 imported modules one by one (0.3-0.5 s on the 2-core machine)
#: and has nothing left to do for such a command (its files are written and closed)
_fast_exit = False


def allow_fast_exit() -> None:
    """Let the process end at once (``os._exit``) when the command returns successfully."""
    global _fast_exit
    _fast_exit = True


def _terminate(signum: int, frame: FrameType | None) -> None:
    signals.mark()
    raise KeyboardInterrupt


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signals.mark()
    raise KeyboardInterrupt


def main() -> None:
    """Run ``siteopt`` with SIGTERM handled like Ctrl-C."""
    from siteopt._clock import mark_entry
    from siteopt._process import tune

    mark_entry()
    tune()  # the allocator and BLAS settings of this process, before numpy is imported
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _interrupt)
    debug = "--debug" in sys.argv[1:]
    code: int | str | None = 0
    try:
        from siteopt.cli.main import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        if debug:
            raise
        # click turns Ctrl-C inside a command into an exit; this is Ctrl-C outside of one
        sys.stderr.write(INTERRUPTED)
        code = 1
    except SystemExit as exc:
        code = exc.code
    if signals.signalled():
        # interrupted: the writer has already put earlier outputs back; leave at once, so that
        # no late KeyboardInterrupt (a solver's or a worker thread's) can escape at shutdown
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    if _fast_exit and code in (0, None):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: let Python's own exit report it
            sys.exit(code)
        os._exit(0)
    sys.exit(code)


if __name__ == "__main__":
    main()
