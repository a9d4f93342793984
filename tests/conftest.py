"""Test-session settings shared by every test folder."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="session", autouse=True)
def _one_blas_and_openmp_thread():
    """Pin BLAS/OpenMP pools to one thread.

    On this project's 2-core machines scikit-learn's gradient boosting and BLAS ran 20-50x slower
    with their default pools when anything else was busy (oversubscription); the tests measure
    correctness, not speed.
    """
    with threadpool_limits(limits=1):
        yield
