"""Fixtures of the Spark tests: one local SparkSession, a generated warehouse, its Parquet export.

Every relation of ``smsanalytics/sql/`` runs on DuckDB and on Spark over the same data
(``test_spark_relations.py``). Parameters are discovered from the SQL and taken from
:data:`PARAMETER_DEFAULTS` by name; lookup tables a relation reads besides the canonical ones
come from :data:`LOOKUP_TABLES`. A relation with a parameter or a lookup table not listed here
fails with a message saying where to add it, so a new relation is never skipped silently.

The session needs pyspark (the ``spark`` extra) and Java; without them the tests skip, unless
``SMSANALYTICS_REQUIRE_SYSTEM=1`` (CI), where they fail. Run them with ``make test-spark``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from smsanalytics.warehouse import Warehouse

UTC = dt.UTC

#: Warnings pyspark emits on this stack (pyspark 4.3 checks the pandas version when a session
#: starts and warns about pandas 3); added to every test of this folder (see
#: :func:`pytest_collection_modifyitems`), never filtered globally.
SPARK_WARNING_FILTERS = ("ignore:PySpark does not yet fully support pandas:FutureWarning",)
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            for spec in SPARK_WARNING_FILTERS:
                item.add_marker(pytest.mark.filterwarnings(spec))


def _unavailable(reason: str) -> None:
    if os.environ.get("SMSANALYTICS_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"{reason} (SMSANALYTICS_REQUIRE_SYSTEM=1: Spark tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlglot_available() -> None:
    """Skip (fail in CI) without sqlglot, which the transpiler needs (no Spark needed)."""
    try:
        import sqlglot  # noqa: F401
    except ImportError:
        _unavailable("sqlglot is not installed: run the Spark tests with `make test-spark`")


# --------------------------------------------------------------------------------------------
# Spark session
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole test session: local[2], 2 shuffle partitions, UTC."""
    for module in ("pyspark", "sqlglot"):
        try:
            __import__(module)
        except ImportError:
            _unavailable(f"{module} is not installed: run the Spark tests with `make test-spark`")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        _unavailable(
            "no Java runtime: install openjdk-17-jre-headless or set JAVA_HOME "
            "(e.g. /usr/lib/jvm/java-17-openjdk-amd64)"
        )
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from smsanalytics.engines.spark import local_spark_session

    session = local_spark_session(
        master="local[2]",
        app_name="smsanalytics-tests",
        shuffle_partitions=2,
        # 1g ran out while broadcasting late in the suite (CI, 2026-11-26); with 2g and 64 MB
        # pages a hash aggregate twice found no memory for its first page
        # (AGGREGATE_OUT_OF_MEMORY, 2026-11-27): now 3g, and 4 MB pages (local_spark_session)
        driver_memory="3g",
        conf={
            "spark.sql.ansi.enabled": "true",
            "spark.sql.adaptive.enabled": "false",  # faster on tiny data; results are the same
            "spark.sql.autoBroadcastJoinThreshold": str(32 * 1024 * 1024),
        },
    )
    yield session
    session.stop()


# --------------------------------------------------------------------------------------------
# data: a generated programme in DuckDB, the same tables as Parquet
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataContext:
    """Facts about the generated data that parameter defaults are derived from."""

    warehouse: Warehouse
    first_sent_at: dt.datetime
    last_event_at: dt.datetime

    @property
    def as_of(self) -> dt.datetime:
        # A month before the data ends (events after it must be ignored), not at midnight (so
        # instant-to-date casts matter).
        return (self.last_event_at - dt.timedelta(days=30)).replace(
            minute=30, second=0, microsecond=0
        )

    def campaign_with_holdout(self) -> str:
        rows = self.warehouse.con.execute(
            """
            SELECT a.campaign_id
            FROM assignments AS a
            JOIN messages AS m ON m.campaign_id = a.campaign_id
            WHERE a.is_holdout AND m.sent_at < $as_of
            GROUP BY a.campaign_id
            ORDER BY count(DISTINCT a.contact_id) DESC, a.campaign_id
            LIMIT 1
            """,
            {"as_of": self.as_of},
        ).fetchall()
        assert rows, "the generated programme has no campaign with a holdout before as_of"
        return rows[0][0]

    def kind_of(self, campaign_id: str) -> str:
        rows = self.warehouse.con.execute(
            "SELECT kind FROM campaigns WHERE campaign_id = $id", {"id": campaign_id}
        ).fetchall()
        return rows[0][0]


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    """A DuckDB warehouse holding ``generate_programme(2000, seed=1)``."""
    from smsanalytics.synth import generate_programme, load_programme

    wh = Warehouse(":memory:")
    load_programme(generate_programme(2000, seed=1), wh)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def context(warehouse: Warehouse) -> DataContext:
    first, last = warehouse.con.execute(
        """
        SELECT min(sent_at), greatest(max(sent_at),
            (SELECT max(status_at) FROM receipts), (SELECT max(clicked_at) FROM clicks),
            (SELECT max(ordered_at) FROM orders), (SELECT max(received_at) FROM inbound))
        FROM messages
        """
    ).fetchall()[0]
    return DataContext(warehouse, first.astimezone(UTC), last.astimezone(UTC))


@pytest.fixture(scope="session")
def parquet_dir(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from smsanalytics.engines import export_parquet

    folder = tmp_path_factory.mktemp("parquet")
    export_parquet(warehouse, folder)
    return folder


# --------------------------------------------------------------------------------------------
# parameters and lookup tables of the relations
# --------------------------------------------------------------------------------------------

#: A sensible value for each relation parameter, by name. Add one when you add a relation with a
#: new ``$parameter`` (tests/spark/test_spark_relations.py fails and points here until you do).
PARAMETER_DEFAULTS: dict[str, Callable[[DataContext], Any]] = {
    "as_of": lambda c: c.as_of,
    "start": lambda c: c.as_of - dt.timedelta(days=120),
    "end": lambda c: c.as_of - dt.timedelta(days=7),
    "cutoff": lambda c: c.as_of - dt.timedelta(days=90),
    "horizon_end": lambda c: c.as_of,
    "campaign_id": lambda c: c.campaign_with_holdout(),
    "attribution_days": lambda c: 7,
    "pre_period_days": lambda c: 28,
    "click_days": lambda c: 7,
    "delivery_days": lambda c: 1,
    "optout_days": lambda c: 2,
    "require_no_click": lambda c: True,
    "window_hours": lambda c: 24.0,
    "kind": lambda c: c.kind_of(c.campaign_with_holdout()),
    "limit": lambda c: c.as_of,
    "window_days": lambda c: 14,
}

#: Further runs of a relation with some parameters changed (a relation → overrides), for
#: parameters whose values take different paths through the SQL.
EXTRA_CASES: list[tuple[str, dict[str, Any]]] = [
    ("campaign_message_facts", {"campaign_id": None}),  # every campaign, transactional too
    ("churn_labels", {"require_no_click": False}),
]


def _zones(c: DataContext) -> list[str]:
    rows = c.warehouse.con.execute(
        "SELECT DISTINCT timezone FROM contacts WHERE timezone IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _zone_tables(c: DataContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    from smsanalytics.features import zone_tables

    return zone_tables(
        _zones(c), start=c.first_sent_at, end=c.last_event_at + dt.timedelta(minutes=15)
    )


def _sendtime_zone_relation(c: DataContext) -> pl.DataFrame:
    from smsanalytics.sendtime.timezones import ZoneOffsets

    return ZoneOffsets(
        _zones(c), c.first_sent_at - dt.timedelta(days=1), c.last_event_at + dt.timedelta(days=1)
    ).relation()


def _campaign_segments(c: DataContext) -> pl.DataFrame:
    contacts = c.warehouse.con.sql("SELECT contact_id FROM contacts").pl()
    names = ["Champions", "Loyal", "At risk", "Lost"]
    return contacts.filter(pl.col("contact_id") % 5 != 0).select(
        pl.col("contact_id").cast(pl.Int64),
        pl.col("contact_id")
        .map_elements(lambda i: names[i % 4], return_dtype=pl.String)
        .alias("segment"),
    )


def _campaign_prices(c: DataContext) -> pl.DataFrame:
    countries = [
        r[0]
        for r in c.warehouse.con.execute(
            "SELECT DISTINCT country FROM contacts WHERE country IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    priced = countries[: max(1, len(countries) // 2)]  # the others fall back to 'default'
    return pl.DataFrame(
        {
            "country": [*priced, "default"],
            "price_per_segment": [0.01 * (i + 3) for i in range(len(priced))] + [0.05],
        },
        schema={"country": pl.String, "price_per_segment": pl.Float64},
    )


#: The lookup tables relations read besides the canonical tables (registered per run by the
#: package: zone offsets, segments, prices), by name: a builder from the data. Add one when a
#: relation reads a new registered table.
LOOKUP_TABLES: dict[str, Callable[[DataContext], pl.DataFrame]] = {
    "zone_ids": lambda c: _zone_tables(c)[0],
    "zone_offsets": lambda c: _zone_tables(c)[1],
    "campaign_segments": _campaign_segments,
    "campaign_prices": _campaign_prices,
    "sendtime_zone_ids": lambda c: (
        _sendtime_zone_relation(c).select("zone_id", "timezone").unique().sort("zone_id")
    ),
    "sendtime_zone_offsets": lambda c: _sendtime_zone_relation(c).select(
        "zone_id", "bucket", "utc_offset_minutes"
    ),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``relation_case`` with every relation of ``smsanalytics/sql/`` (discovered
    at collection, so relations added later are covered) and the :data:`EXTRA_CASES`."""
    if "relation_case" not in metafunc.fixturenames:
        return
    from smsanalytics.engines.relations import available_relations

    cases = [(name, {}) for name in sorted(available_relations())] + list(EXTRA_CASES)
    ids = [
        name if not overrides else f"{name}[{','.join(f'{k}={v}' for k, v in overrides.items())}]"
        for name, overrides in cases
    ]
    metafunc.parametrize("relation_case", cases, ids=ids)


@dataclass(frozen=True)
class RelationRun:
    """A relation compiled with those it reads, and the parameters to run it with."""

    name: str
    sql: str
    params: dict[str, Any]


@pytest.fixture
def relation_run(
    relation_case: tuple[str, dict[str, Any]], context: DataContext, sqlglot_available: None
) -> RelationRun:
    """The relation of ``relation_case`` with its parameters, or a failure saying what to add
    here when it takes a parameter or reads a lookup table this file does not know."""
    from smsanalytics import schemas
    from smsanalytics.engines.relations import parameter_names, referenced_tables, relation_sql

    name, overrides = relation_case
    sql = relation_sql(name)
    canonical = {t.name for t in schemas.CANONICAL_TABLES}
    unknown_tables = sorted(referenced_tables(sql, name=name) - canonical - set(LOOKUP_TABLES))
    if unknown_tables:
        pytest.fail(
            f"relation {name!r} reads {unknown_tables}, which are neither canonical tables, "
            "relations of smsanalytics/sql/ nor known lookup tables: add a builder to "
            "LOOKUP_TABLES in tests/spark/conftest.py"
        )
    wanted = parameter_names(sql)
    unknown = sorted(wanted - set(PARAMETER_DEFAULTS) - set(overrides))
    if unknown:
        pytest.fail(
            f"relation {name!r} takes parameter(s) {unknown} that the Spark tests have no value "
            "for: add a default to PARAMETER_DEFAULTS in tests/spark/conftest.py"
        )
    params = {p: PARAMETER_DEFAULTS[p](context) for p in sorted(wanted) if p not in overrides}
    params.update({k: v for k, v in overrides.items() if k in wanted})
    return RelationRun(name, sql, params)


@pytest.fixture(scope="session")
def lookup_tables(context: DataContext) -> dict[str, pl.DataFrame]:
    """Every lookup table, built once; registered on both engines for the whole session."""
    frames = {name: build(context) for name, build in LOOKUP_TABLES.items()}
    for name, frame in frames.items():
        context.warehouse.con.register(name, frame)
    return frames


@pytest.fixture(scope="session")
def spark_engine(
    spark: Any, parquet_dir: Path, lookup_tables: dict[str, pl.DataFrame]
) -> Iterator[Any]:
    """A SparkEngine over the Parquet export, with every lookup table registered."""
    from smsanalytics.engines import SparkEngine

    engine = SparkEngine(spark, parquet_dir)
    for name, frame in lookup_tables.items():
        engine.register(name, frame)
    yield engine
    engine.close()


# --------------------------------------------------------------------------------------------
# comparing results
# --------------------------------------------------------------------------------------------


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """One dtype per kind: integers Int64, fractional numbers Float64, timestamps us (UTC if
    zoned). DuckDB sums integers into HUGEINT (polars Decimal(38, 0)) where Spark keeps BIGINT,
    and divides decimals into doubles where Spark keeps DECIMAL; the values, not the widths,
    are the contract."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if _kind(dtype) == "integer":
            col = col.cast(pl.Int64, strict=True)
        elif dtype.is_float() or isinstance(dtype, pl.Decimal):
            col = col.cast(pl.Float64)
        elif isinstance(dtype, pl.Datetime):
            col = col.dt.cast_time_unit("us")
            if dtype.time_zone is not None:
                col = col.dt.convert_time_zone("UTC")
        exprs.append(col)
    return frame.select(exprs)


def _kind(dtype: pl.DataType) -> str:
    # DuckDB's HUGEINT (sums and some counts of integers) arrives as Decimal(38, 0).
    if dtype.is_integer() or (isinstance(dtype, pl.Decimal) and dtype.scale == 0):
        return "integer"
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return "fractional"
    if isinstance(dtype, pl.Datetime):
        return "timestamp with time zone" if dtype.time_zone else "timestamp"
    return str(dtype)


def assert_same_result(duck: pl.DataFrame, spark: pl.DataFrame, what: str) -> None:
    """Equal as multisets of rows: same columns, same kinds of types, identical values
    (floats within 1e-9 relative), whatever the row order."""
    assert spark.columns == duck.columns, (
        f"{what}: columns differ\n DuckDB: {duck.columns}\n Spark:  {spark.columns}"
    )
    kinds = {c: (_kind(duck.schema[c]), _kind(spark.schema[c])) for c in duck.columns}
    bad = {
        c: k
        for c, k in kinds.items()
        if k[0] != k[1] and pl.Null not in (duck.schema[c], spark.schema[c])
    }
    assert not bad, f"{what}: column types differ (DuckDB, Spark): {bad}"
    d, s = _normalise(duck), _normalise(spark)
    assert s.height == d.height, f"{what}: {d.height} rows on DuckDB, {s.height} on Spark"
    floats = [c for c, k in kinds.items() if k[0] == "fractional"]
    exact = [c for c in d.columns if c not in floats]

    def ordered(frame: pl.DataFrame) -> pl.DataFrame:
        # Exact columns first, then floats rounded: noise in the last bits must not reorder rows.
        keys = [*exact, *(pl.col(c).round(6) for c in floats)]
        return frame.sort(keys, nulls_last=True) if keys else frame

    assert_frame_equal(
        ordered(d), ordered(s), check_dtypes=False, check_exact=False, rel_tol=1e-9, abs_tol=1e-9
    )


@pytest.fixture(scope="session")
def same_result() -> Callable[[pl.DataFrame, pl.DataFrame, str], None]:
    """:func:`assert_same_result`, as a fixture for the test modules."""
    return assert_same_result
