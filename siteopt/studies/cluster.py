"""A Dask client for a sweep: a new local cluster or an existing scheduler, checked and warmed.

A local cluster starts while the caller builds the sweep's problems (:func:`while_starting`),
so its start-up hides behind work that has to happen anyway; every worker then solves a tiny
problem (:func:`siteopt.studies._work.warm_up`) before the first batch arrives, so no batch
pays for importing the models.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from siteopt._errors import InputError
from siteopt.studies._work import warm_up, worker_version

#: how long to try reaching a --scheduler before giving up
CONNECT_TIMEOUT = "20s"
#: how long to wait for the first worker of a --scheduler
WORKER_TIMEOUT = 60.0
#: how long a local cluster stopped early waits for its workers to finish warming up
WARM_TIMEOUT = 30.0

T = TypeVar("T")


def quiet_dask() -> None:
    """Keep Dask's and distributed's log messages below WARNING off the user's terminal."""
    for name in ("distributed", "dask", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this process (and in processes it starts) for the duration."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


class Background(Generic[T]):
    """Run ``work`` in a daemon thread from now on; :meth:`result` waits for it.

    The thread is a daemon, so an interrupted run does not wait for it at exit.
    """

    def __init__(self, work: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._value = work()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        """The value of ``work``, or its exception raised here.

        Waits in short steps, so that Ctrl-C reaches the caller while it waits.
        """
        while self._thread.is_alive():
            self._thread.join(0.1)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def _warm(client: Any) -> list[Any]:
    """One warm-up task per worker (futures: kept until the client closes)."""
    return [
        client.submit(warm_up, workers=[w], allow_other_workers=False, pure=False)
        for w in client.scheduler_info()["workers"]
    ]


@contextlib.contextmanager
def dask_client(
    workers: int, scheduler: str | None, meanwhile: Background[Any] | None = None
) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new LocalCluster.

    Parameters
    ----------
    workers
        Worker processes of the new LocalCluster (one thread each).
    scheduler
        Address of an existing scheduler (``workers`` is then ignored).
    meanwhile
        Work already running in the background (the sweep's plan): when the cluster fails to
        start, its error is reported rather than the cluster's when it has one.

    Raises
    ------
    InputError
        When the scheduler cannot be reached, has no workers, or its workers cannot run siteopt.
    """
    import distributed

    quiet_dask()
    if scheduler is None:
        # Worker processes start with Ctrl-C ignored (they inherit it): a Ctrl-C in the terminal
        # then reaches only this process, which shuts the cluster down cleanly.
        try:
            with _sigint_ignored():
                cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # no dashboard; its small HTTP server takes a free port on this machine
                    # rather than 8787, which another cluster may hold
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.WARNING,
                )
        except Exception:
            if meanwhile is not None:
                meanwhile.result()  # a bad input is the better message
            raise
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        try:
            with cluster:
                try:
                    with distributed.Client(cluster) as client:
                        quiet_dask()
                        warming = _warm(client)
                        try:
                            yield client
                        except Exception:
                            # stopped early (a bad input found while planning): let the workers
                            # finish warming up, else they log a heartbeat error as they close
                            with contextlib.suppress(Exception):
                                distributed.wait(warming, timeout=WARM_TIMEOUT)
                            raise
                finally:
                    # a worker still busy (warming up) when the cluster closes is stopped: that
                    # is no news for the user
                    nanny.setLevel(logging.ERROR)
        finally:
            nanny.setLevel(level)
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"--scheduler {scheduler}: cannot connect to a Dask scheduler there ({exc}); check "
            "the address (e.g. tcp://host:8786) and that 'dask scheduler' is running there."
        ) from None
    with client:
        quiet_dask()
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except (TimeoutError, OSError):
            raise InputError(
                f"--scheduler {scheduler}: no worker joined the scheduler within "
                f"{WORKER_TIMEOUT:g} s; start workers with 'dask worker {scheduler} --nthreads 1'."
            ) from None
        try:
            versions = client.run(worker_version)
        except Exception as exc:  # the workers' own import errors come back as any type
            raise InputError(
                f"--scheduler {scheduler}: the workers cannot run siteopt ({type(exc).__name__}: "
                f"{exc}); install the same siteopt on every worker."
            ) from None
        from siteopt import __version__

        odd = sorted(f"{a} ({v})" for a, v in versions.items() if v != __version__)
        if odd:
            raise InputError(
                f"--scheduler {scheduler}: workers run another siteopt version than this one "
                f"({__version__}): {', '.join(odd)}; install the same version everywhere."
            )
        warming = _warm(client)
        yield client
        del warming


@contextlib.contextmanager
def planned_client(
    plan: Callable[[], T], workers: int, scheduler: str | None
) -> Iterator[tuple[T, Any]]:
    """``(plan(), client)``: the client is None when ``workers`` is 0 and there is no scheduler.

    A new local cluster starts while ``plan`` runs in a background thread (the two use
    different cores: the workers start in their own processes). With ``--scheduler`` the
    connection comes first, so a wrong address fails before the data are read.
    """
    if scheduler is None and workers == 0:
        yield plan(), None
        return
    if scheduler is not None:
        with dask_client(workers, scheduler) as client:
            yield plan(), client
        return
    job = Background(plan)
    with dask_client(workers, None, meanwhile=job) as client:
        yield job.result(), client
