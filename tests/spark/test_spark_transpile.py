"""The transpiler on its own (no Spark session): parameters, refusals, relation compilation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smsanalytics.engines import EngineError, UnsupportedSQLError
from smsanalytics.engines import relations as rel

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def transpile(sqlglot_available: None) -> Any:
    from smsanalytics.engines.transpile import transpile

    return transpile


# -- parameters -------------------------------------------------------------------------------


def test_parameters_outside_comments_and_strings_only() -> None:
    sql = """
        -- $in_comment
        SELECT '$in_string', "$in_identifier", $a, $b::INTEGER /* $in_block */, $a
        FROM t WHERE x = $c"""
    assert rel.parameter_names(sql) == {"a", "b", "c"}


def test_dollar_quoted_strings_are_refused() -> None:
    with pytest.raises(EngineError, match="dollar-quoted"):
        rel.parameter_names("SELECT $$text$$")


def test_missing_and_unknown_parameters_are_named(transpile: Any) -> None:
    sql = "SELECT * FROM messages WHERE sent_at < $as_of AND campaign_id = $campaign_id"
    with pytest.raises(EngineError, match=r"needs parameter\(s\) \['campaign_id'\]"):
        transpile(sql, params={"as_of": dt.date(2026, 1, 1)}, name="rel_x")
    with pytest.raises(EngineError, match=r"unknown: \['typo'\]"):
        transpile(sql, params={"as_of": None, "campaign_id": "c", "typo": 1}, name="rel_x")


@pytest.mark.parametrize("value", [[1, 2], dt.timedelta(days=1), b"bytes", dt.time(12), "nul\x00"])
def test_unbindable_values_are_refused(transpile: Any, value: Any) -> None:
    with pytest.raises(EngineError, match="parameter 'v'"):
        transpile("SELECT $v AS v", params={"v": value})


def test_strings_are_bound_as_escaped_literals(transpile: Any) -> None:
    """A value can never become SQL: the output parses back to the same single literal."""
    import sqlglot
    from sqlglot import exp

    evil = "x' AS v; DROP TABLE contacts; SELECT '\\' --"
    out = transpile("SELECT $v AS v", params={"v": evil})
    statements = sqlglot.parse(out, read="spark")
    assert len(statements) == 1
    assert [e.alias for e in statements[0].expressions] == ["v"]
    assert [lit.this for lit in statements[0].find_all(exp.Literal)] == [evil]


def test_timestamps_are_bound_in_utc(transpile: Any) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    out = transpile("SELECT $t AS t", params={"t": dt.datetime(2026, 6, 1, 2, 0, tzinfo=paris)})
    assert "'2026-06-01 00:00:00.000000+00:00' AS TIMESTAMP" in out
    naive = transpile("SELECT $t AS t", params={"t": dt.datetime(2026, 6, 1, 2, 0)})
    assert "AS TIMESTAMP_NTZ" in naive


# -- refusals ----------------------------------------------------------------------------------

REFUSED = {
    "list aggregate": ("SELECT contact_id, list(message_id) FROM messages GROUP BY 1", "ARRAY_AGG"),
    "list literal": ("SELECT [1, 2] AS l", "[1, 2]"),
    "struct literal": ("SELECT {'a': 1} AS s", "'a'"),
    "list cast": ("SELECT CAST(segments AS INTEGER[]) FROM messages", "INT[]"),
    "list function": ("SELECT list_sort(x) FROM (SELECT 1 AS x)", "LIST_SORT"),
    "string split": ("SELECT string_split(body, ' ') FROM messages", "SPLIT"),
    "json": ("SELECT json_extract(attributes, '$.tier') FROM contacts", "$.tier"),
    "unnest": ("SELECT unnest(x) FROM (SELECT 1 AS x)", "UNNEST"),
    "random": ("SELECT random() AS r", "RANDOM"),
    "hash": ("SELECT hash(contact_id) FROM contacts", "HASH"),
    "now": ("SELECT now() AS n", "NOW"),
    "current_timestamp": ("SELECT current_timestamp AS n", "CURRENT_TIMESTAMP"),
    "table function": ("SELECT * FROM read_parquet('x.parquet')", "READ_PARQUET"),
    "timestamp as text": ("SELECT CAST(sent_at AS VARCHAR) FROM messages", "sent_at"),
    "double as text": ("SELECT CAST(cost AS VARCHAR) FROM messages", "cost"),
    "local time to instant": (
        "SELECT CAST(sent_at AS TIMESTAMP) AT TIME ZONE 'Europe/Paris' FROM messages",
        "AT TIME ZONE",
    ),
    "date_sub": ("SELECT date_sub('day', sent_at, sent_at) FROM messages", "DATE_SUB"),
    "unknown date part": ("SELECT date_part('millisecond', sent_at) FROM messages", "millisecond"),
    "unknown diff part": ("SELECT date_diff('week', sent_at, sent_at) FROM messages", "week"),
    "computed round digits": ("SELECT round(cost, segments) FROM messages", "ROUND"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_untranslatable_constructs_name_relation_and_construct(transpile: Any, case: str) -> None:
    sql, construct = REFUSED[case]
    with pytest.raises(UnsupportedSQLError) as info:
        transpile(sql, params={}, name="agg_example")
    err = info.value
    assert err.relation == "agg_example"
    assert construct.lower() in err.construct.lower(), err.construct
    assert str(err).startswith("relation 'agg_example' uses ")


def test_syntax_sqlglot_cannot_parse_is_an_unsupported_sql_error(transpile: Any) -> None:
    with pytest.raises(UnsupportedSQLError, match="cannot parse"):
        transpile("SELECT FROM WHERE (", params={}, name="broken")


# -- relation compilation ---------------------------------------------------------------------


def test_relations_are_inlined_once_in_dependency_order(
    monkeypatch: pytest.MonkeyPatch, sqlglot_available: None
) -> None:
    files = {
        "stg_a": "SELECT contact_id FROM contacts WHERE signup_at < $as_of",
        "agg_b": "WITH x AS (SELECT * FROM stg_a) SELECT contact_id FROM x",
        "fct_c": "-- reads stg_a twice\nSELECT * FROM agg_b JOIN stg_a USING (contact_id)",
    }
    monkeypatch.setattr(rel, "available_relations", lambda: set(files))
    monkeypatch.setattr(rel, "sql_text", lambda name: files[name])
    assert rel.relation_dependencies("fct_c") == ["stg_a", "agg_b", "fct_c"]
    sql = rel.relation_sql("fct_c")
    assert sql.count("stg_a AS (") == 1 and sql.index("stg_a AS (") < sql.index("agg_b AS (")
    assert rel.referenced_tables(sql) == {"contacts"}
    assert rel.parameter_names(sql) == {"as_of"}


def test_a_cte_shadowing_a_relation_is_not_a_dependency(
    monkeypatch: pytest.MonkeyPatch, sqlglot_available: None
) -> None:
    files = {"stg_a": "SELECT 1 AS x", "fct_b": "WITH stg_a AS (SELECT 2 AS x) SELECT * FROM stg_a"}
    monkeypatch.setattr(rel, "available_relations", lambda: set(files))
    monkeypatch.setattr(rel, "sql_text", lambda name: files[name])
    assert rel.relation_sql("fct_b") == files["fct_b"]


def test_relation_cycles_are_refused(
    monkeypatch: pytest.MonkeyPatch, sqlglot_available: None
) -> None:
    files = {"stg_a": "SELECT * FROM fct_b", "fct_b": "SELECT * FROM stg_a"}
    monkeypatch.setattr(rel, "available_relations", lambda: set(files))
    monkeypatch.setattr(rel, "sql_text", lambda name: files[name])
    with pytest.raises(EngineError, match="cycle: stg_a -> fct_b -> stg_a"):
        rel.relation_sql("stg_a")


def test_every_relation_transpiles(transpile: Any) -> None:
    """Cheap early warning (the Spark comparison is in test_spark_relations.py)."""
    values: dict[str, Any] = {"as_of": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
    for name in sorted(rel.available_relations()):
        sql = rel.relation_sql(name)
        params = {p: values.get(p, 1) for p in rel.parameter_names(sql)}
        assert transpile(sql, params=params, name=name)
