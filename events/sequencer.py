"""The process's sequencer thread: numbers committed events just after their transaction, off the request.

Numbering is a transaction of its own (``events.services.assign_sequences``), and its commit waits for the database
to flush its log: on PostgreSQL about 3.5 ms of a voice agent's 15-ms booking, measured, when the request that
published ran it after its own commit. With ``EVENTS_SEQUENCER_THREAD`` (on in production) the publishing
transaction's commit only wakes this thread and the request answers at once; the thread numbers whatever has
committed by then, so commits that arrive while it runs are numbered together by its next run. Watchers are woken
by its announcement, as before.

What it costs when a process stops: the thread is a daemon. ``flush()`` runs at interpreter exit (a management
command, a worker shut down gracefully) and waits for the thread to number and announce what is due; a process
killed outright leaves its events to the beat job (``events.assign_sequences``, every 5 s), which also announces
the highest number again, so watchers that missed an announcement read what they missed. A database error is logged and retried after
``RETRY_SECONDS`` (the beat job numbers them meanwhile if it runs first). A forked child (a Celery prefork process)
starts a thread of its own at its first publish.
"""

import atexit
import logging
import os
import threading

from django.db import DatabaseError, close_old_connections

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
FLUSH_SECONDS = 5.0


class Sequencer:
    def __init__(self):
        self.lock = threading.Lock()
        self.condition = threading.Condition()
        self.due = False  # a publishing transaction committed since the last run began
        self.running = False
        self.thread: threading.Thread | None = None
        self.pid: int | None = None

    def wake(self) -> None:
        """A publishing transaction committed (its ``on_commit``): number its events soon. No I/O."""
        self._ensure_thread()
        with self.condition:
            self.due = True
            self.condition.notify_all()

    def _ensure_thread(self) -> None:
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
                return
            if self.pid != os.getpid():
                # A forked child inherits the parent's objects but not its thread: start afresh.
                self.condition = threading.Condition()
                self.due = self.running = False
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self._loop, name="events-sequencer", daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: self.due)
                self.due, self.running = False, True
            failed = not self.run()
            with self.condition:
                self.running = False
                if failed:
                    self.due = True
                self.condition.notify_all()
                if failed:
                    # Try again after a pause, or at once when a new commit wakes it.
                    self.condition.wait(RETRY_SECONDS)

    def run(self) -> bool:
        """Number every committed event still without a number; False if the database failed."""
        from . import services

        try:
            while services.assign_sequences():
                pass
            return True
        except DatabaseError:
            logger.warning("Numbering new events failed; retrying (the beat job numbers them too)", exc_info=True)
            return False
        finally:
            close_old_connections()  # give a pooled connection back; keep a persistent one

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is due and no run is under way (tests, ``flush``); False after ``timeout`` s."""
        with self.condition:
            return self.condition.wait_for(lambda: not self.due and not self.running, timeout=timeout)

    def flush(self) -> None:
        """At exit: let the thread finish what is due, announcement included (a daemon thread stops mid-way when
        the interpreter ends), or number it here if the thread does not finish within ``FLUSH_SECONDS``."""
        if self.pid != os.getpid():
            return
        if not self.wait_idle(FLUSH_SECONDS):
            self.run()


sequencer = Sequencer()
atexit.register(sequencer.flush)
