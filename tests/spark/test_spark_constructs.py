"""Each transpilation rule gives DuckDB's answer on Spark, on edge values chosen to break it.

A small ``probe`` table (instants before 1970, around daylight-saving changes, with odd
microseconds; doubles on rounding ties; zeros to divide by) is registered on both engines, and
queries using every rewritten construct must return identical results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from smsanalytics.warehouse import Warehouse

pytestmark = pytest.mark.spark

UTC = dt.UTC


def _probe() -> pl.DataFrame:
    ts = [
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC),  # negative epoch
        dt.datetime(2026, 3, 29, 0, 59, 59, 500_001, tzinfo=UTC),  # Paris springs forward at 01:00
        dt.datetime(2026, 10, 25, 1, 30, 0, 123_457, tzinfo=UTC),  # Paris falls back at 01:00
        dt.datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
        dt.datetime(2026, 9, 1, 20, 23, 42, 359_527, tzinfo=UTC),  # epoch differs from us / 1e6
        dt.datetime(2026, 1, 4, 23, 59, 59, 999_999, tzinfo=UTC),  # a Sunday
        None,
    ]
    ts2 = [
        dt.datetime(1969, 12, 30, 0, 0, 0, 1, tzinfo=UTC),
        dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        dt.datetime(2025, 10, 25, 1, 29, 59, 999_999, tzinfo=UTC),
        dt.datetime(2023, 3, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2026, 9, 1, 20, 22, 28, 981_638, tzinfo=UTC),
        dt.datetime(2026, 3, 8, 2, 30, tzinfo=UTC),  # 02:30 does not exist in New York that day
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=UTC),  # 01:30 happens twice in New York that day
    ]
    return pl.DataFrame(
        {
            "id": list(range(1, 8)),
            "ts": ts,
            "ts2": ts2,
            "d": [t.date() if t else None for t in ts],
            "d2": [t.date() for t in ts2],
            "x": [2.5, 3.5, -2.5, 2.675, 1.005, -0.5, None],
            "y": [0.0, 2.0, 0.0, -4.0, 3.0, None, 1.0],
            "n": [0, 3, -2, 48, 1, 7, None],
            "s": ["O'Brien", "a\\b", None, "été", "", "x", "y"],
            "z": [
                "Europe/Paris",
                "Europe/Paris",
                "Europe/Paris",
                "America/New_York",
                "UTC",
                "Asia/Kolkata",
                None,
            ],
        },
        schema={
            "id": pl.Int64,
            "ts": pl.Datetime("us", "UTC"),
            "ts2": pl.Datetime("us", "UTC"),
            "d": pl.Date,
            "d2": pl.Date,
            "x": pl.Float64,
            "y": pl.Float64,
            "n": pl.Int32,
            "s": pl.String,
            "z": pl.String,
        },
    )


@pytest.fixture(scope="module")
def engines(
    spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Warehouse, Any]]:
    """DuckDB and a Spark engine over an empty Parquet folder, both with ``probe`` registered."""
    from smsanalytics.engines import SparkEngine

    frame = _probe()
    wh = Warehouse(":memory:")
    wh.con.register("probe", frame)
    engine = SparkEngine(spark, tmp_path_factory.mktemp("no_tables"))
    engine.register("probe", frame)
    yield wh, engine
    engine.close()
    wh.close()


QUERIES = {
    "epoch": """
        SELECT id,
            epoch(ts) AS e, epoch(ts) - epoch(ts2) AS e_diff,
            epoch(CAST(ts AS TIMESTAMP)) AS e_naive,
            date_part('epoch', ts) AS e_part, extract(epoch FROM ts2) AS e_extract,
            epoch_ms(ts) AS ms, epoch_us(ts) AS us, epoch(d) AS e_date,
            CAST(floor(epoch(ts) / 900) AS BIGINT) AS bucket
        FROM probe""",
    "date_diff": """
        SELECT id,
            date_diff('day', ts2, ts) AS days, datediff('day', d2, d) AS days_d, d - d2 AS days_sub,
            date_diff('hour', ts2, ts) AS hours, date_diff('minute', ts2, ts) AS minutes,
            date_diff('second', ts2, ts) AS seconds, date_diff('millisecond', ts2, ts) AS millis,
            date_diff('microsecond', ts2, ts) AS micros, date_diff('month', ts2, ts) AS months,
            date_diff('year', d2, d) AS years
        FROM probe""",
    "date_parts": """
        SELECT id,
            dayofweek(ts) AS dow, isodow(ts) AS isodow, extract(dow FROM ts) AS dow_x,
            extract(isodow FROM d) AS isodow_x, date_part('dow', d) AS dow_p, week(ts) AS week,
            weekofyear(d) AS woy, extract(hour FROM ts) AS hour, date_part('doy', ts) AS doy,
            quarter(ts) AS q, year(ts) AS y, month(d) AS m, day(ts) AS dd, minute(ts) AS mi,
            date_part('second', ts) AS sec,
            CAST(date_trunc('week', ts) AS DATE) AS week_start,
            date_trunc('hour', ts) AS hour_start,
            date_trunc('month', d) AS month_start, CAST(ts AS DATE) AS utc_date,
            make_date(year(d), month(d), 1) AS first_of_month
        FROM probe""",
    "numbers": """
        SELECT id,
            x / y AS div, n / 0 AS int_div_zero, x / 4 AS div_lit, CAST(x AS INTEGER) AS x_int,
            CAST(x AS BIGINT) AS x_big, CAST(CAST(x AS DECIMAL(10, 3)) AS INTEGER) AS dec_int,
            round(x, 2) AS r2, round(x) AS r0, round(x * 1000, -2) AS rm2,
            CAST(n AS DOUBLE) / 7 AS third,
            n % 5 AS modulo, greatest(x, y) AS g, least(x, y) AS l, abs(x) AS a, sqrt(abs(x)) AS sq,
            ln(abs(x) + 1) AS lnx, power(2, n) AS p2, floor(x) AS fl, ceil(x) AS ce
        FROM probe""",
    "intervals": """
        SELECT id,
            ts + n * INTERVAL '1' HOUR AS plus_hours, ts + INTERVAL (n) DAY AS plus_days,
            ts - to_days(n) AS minus_days, ts + to_minutes(n) AS plus_minutes,
            ts + to_hours(n) AS plus_hours_fn, ts + INTERVAL '24' HOUR AS plus_day,
            ts + INTERVAL 1 DAY AS plus_day_unquoted, d + INTERVAL '1' MONTH AS next_month,
            ts2 + 1.5 * INTERVAL '1' HOUR AS plus_fraction,
            epoch_ms(CAST(n AS BIGINT) * 1000) AS from_ms, to_timestamp(1.5 * n) AS from_seconds
        FROM probe""",
    "zones": """
        SELECT id, z,
            ts AT TIME ZONE z AS local_time, hour(ts AT TIME ZONE z) AS local_hour,
            ts2 AT TIME ZONE 'America/New_York' AS new_york,
            CAST(ts AT TIME ZONE z AS DATE) AS local_day
        FROM probe""",
    "strings": """
        SELECT id,
            concat(s, NULL, '!') AS c, s || '!' AS pipe, upper(s) AS u, lower(s) AS lo,
            length(s) AS len, s LIKE '%B%' AS has_b, s ILIKE '%b%' AS has_b_ci,
            coalesce(s, 'none') AS co, CAST(n AS VARCHAR) AS n_text, CAST(d AS VARCHAR) AS d_text,
            strftime(ts, '%Y-%m-%d %H:%M:%S') AS formatted, replace(s, 'a', 'b') AS rep,
            substring(s, 2, 3) AS sub, trim('  ' || s || ' ') AS tr, left(s, 2) AS le
        FROM probe""",
    "aggregates": """
        SELECT id % 2 AS parity, count(*) AS n, count(x) AS nx, count(DISTINCT z) AS zones,
            sum(x) AS sx, avg(x) AS ax, min(ts) AS first_ts, max(d) AS last_d,
            sum(n) AS sn, quantile_cont(x, 0.5) AS median_x, median(y) AS median_y,
            count(*) FILTER (WHERE x > 0) AS positive, bool_or(x > 3) AS any_big,
            stddev_samp(x) AS sd, var_pop(x) AS vp,
            sum(CASE WHEN s IS NULL THEN 1 ELSE 0 END) AS null_s
        FROM probe
        GROUP BY ALL""",
    "windows": """
        SELECT id,
            row_number() OVER (ORDER BY x, id) AS rn_x,
            row_number() OVER (ORDER BY x DESC, id) AS rn_x_desc,
            rank() OVER (PARTITION BY z ORDER BY ts) AS rk,
            lag(ts) OVER (ORDER BY id) AS prev_ts,
            sum(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS moving,
            count(*) OVER (PARTITION BY z) AS per_zone
        FROM probe""",
    "qualify": """
        SELECT z, id, x
        FROM probe
        QUALIFY row_number() OVER (PARTITION BY z ORDER BY x DESC NULLS LAST, id) = 1""",
    "distinct_on": """
        SELECT DISTINCT ON (z) z, id, ts
        FROM probe
        ORDER BY z, ts DESC, id""",
    "subqueries": """
        WITH big AS (SELECT id FROM probe WHERE x > 1)
        SELECT p.id,
            CASE WHEN p.id IN (SELECT id FROM big) THEN 1 ELSE 0 END AS is_big,
            EXISTS (SELECT 1 FROM big AS b WHERE b.id = p.id + 1) AS next_is_big,
            (SELECT count(*) FROM big) AS n_big
        FROM probe AS p
        WHERE p.id NOT IN (SELECT 99)""",
}


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_spark_construct_matches_duckdb(query: str, engines: Any, same_result: Any) -> None:
    wh, engine = engines
    sql = QUERIES[query]
    duck = wh.sql(sql)
    spark = engine.sql(sql)
    same_result(duck, spark, f"{query}: {sql}")


def test_spark_parameters_bind_as_duckdb_binds_them(engines: Any, same_result: Any) -> None:
    """Every bindable Python type, including strings that would break naive quoting."""
    wh, engine = engines
    params = {
        "quote": "O'Brien'; DROP TABLE probe; --",
        "backslash": "a\\b\\'c\\\\",
        "newline": "line 1\nline 2\t$not_a_param",
        "unicode": "été ☃ 🚀",
        "aware": dt.datetime(2026, 3, 29, 2, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "naive": dt.datetime(2026, 3, 29, 2, 30),
        "day": dt.date(2024, 2, 29),
        "flag": True,
        "small": -7,
        "big": 2**40,
        "ratio": 0.1,
        "tiny": 1e-300,
        "nothing": None,
    }
    sql = """
        SELECT $quote AS quote, $backslash AS backslash, $newline AS newline, $unicode AS unicode,
            length($quote) AS quote_len, CAST($aware AS TIMESTAMPTZ) AS aware,
            CAST($naive AS TIMESTAMPTZ) AS naive_as_utc, $day AS day, NOT $flag AS flag,
            $small * 2 AS small, $big + 1 AS big, $ratio * 3 AS ratio, $tiny AS tiny,
            CAST($nothing AS VARCHAR) IS NULL AS is_null,
            (SELECT count(*) FROM probe WHERE ts < CAST($aware AS TIMESTAMPTZ)) AS before
    """
    duck = wh.sql(sql, **params)
    spark = engine.sql(sql, **params)
    same_result(duck, spark, "parameters")
    assert spark.row(0, named=True)["quote"] == params["quote"]
    assert spark.row(0, named=True)["backslash"] == params["backslash"]


def test_spark_round_matches_duckdb_on_ties(engines: Any, same_result: Any) -> None:
    """round(x, n) of doubles a hair off a tie (2.675 is 2.67499999… in binary): DuckDB rounds
    the exact value, as the transpiled SQL does; Spark's ROUND alone would not."""
    import random

    rng = random.Random(7)
    xs, ns = [], []
    for _ in range(300):
        n = rng.randint(1, 4)
        xs.append((rng.randint(-(10**6), 10**6) + 0.5) / 10**n)
        ns.append(n)
    frame = pl.DataFrame({"x": xs, "n": ns})
    wh, engine = engines
    wh.con.register("ties", frame)
    with engine.registered(ties=frame):
        sql = """
            SELECT x, n,
                CASE n WHEN 1 THEN round(x, 1) WHEN 2 THEN round(x, 2)
                       WHEN 3 THEN round(x, 3) ELSE round(x, 4) END AS r,
                round(x * 1000, -2) AS r_neg, round(x) AS r_0
            FROM ties"""
        same_result(wh.sql(sql), engine.sql(sql), "round ties")
    wh.con.unregister("ties")
