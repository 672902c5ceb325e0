"""Shared by the benchmark scripts: timing with query counts, and a rollback marker."""

import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext


class Rollback(Exception):
    """Raised at the end of a benchmark so everything it wrote is rolled back."""


def timed(label, func, rounds=5, width=66):
    """Run ``func`` once to warm up, then ``rounds`` times; print median, min and queries."""
    func()
    samples, queries = [], 0
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            func()
            samples.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
    print(
        f"{label:<{width}} median {statistics.median(samples):8.1f} ms   min {min(samples):8.1f} ms   queries {queries}"
    )
