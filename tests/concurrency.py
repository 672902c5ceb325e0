"""Run callables in real threads released at the same instant, each on its own database
connection, for tests of what happens when clients race."""

import threading

from django.db import connection


def run_at_once(workers, timeout=60):
    """Call every worker in its own thread, all starting together. Returns each worker's
    result, or the exception it raised, in the workers' order."""
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)

    def run(index, work):
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:  # handed back to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, work)) for i, work in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def errors_of(results):
    return [result for result in results if isinstance(result, Exception)]
