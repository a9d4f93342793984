"""Every relation of ``smsanalytics/sql/`` gives the same result on Spark as on DuckDB.

The relations are discovered from the folder (``relation_case`` is parametrised in
``conftest.py``), so one added later is covered without editing this file; its parameters come
from ``PARAMETER_DEFAULTS`` and the tables it reads besides the canonical ones from
``LOOKUP_TABLES``. A relation that cannot run on Spark fails here, it is never skipped: make its
SQL portable (``docs/scale-out.md``, "Transpilation rules").
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

pytestmark = pytest.mark.spark


def test_spark_relation_matches_duckdb(
    relation_run: Any, context: Any, spark_engine: Any, same_result: Any
) -> None:
    run = relation_run
    duck = context.warehouse.sql(run.sql, **run.params)
    assert duck.height > 0, (
        f"relation {run.name!r} is empty on the test data with {run.params}, so comparing it "
        "proves nothing: change the defaults in tests/spark/conftest.py"
    )
    spark = spark_engine.query(run.name, **run.params)
    assert isinstance(spark, pl.DataFrame)
    same_result(duck, spark, f"relation {run.name!r} with {run.params}")
