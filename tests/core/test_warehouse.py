"""Warehouse: creation, atomic and idempotent loads, named SQL relations."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from smsanalytics import schemas
from smsanalytics.warehouse import (
    Warehouse,
    WarehouseError,
    bind_parameters,
    code_text,
    sql_parameters,
    strip_line_comments,
)

UTC = dt.UTC


def _contacts(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact_id": ids,
            "external_id": [f"C{i}" for i in ids],
            "phone_e164": [f"+336123456{i:02d}" for i in ids],
            "timezone": ["Europe/Paris"] * len(ids),
            "timezone_source": ["explicit"] * len(ids),
            "signup_at": [dt.datetime(2024, 1, 1, 9, tzinfo=UTC)] * len(ids),
        }
    )


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def test_create_makes_every_canonical_table_with_its_columns(wh):
    for t in schemas.ORDERED_TABLES:
        cols = [r[0] for r in wh.con.execute(f"DESCRIBE {t.qualified_name}").fetchall()]
        assert cols == t.column_names
    assert set(wh.counts()) == set(schemas.TABLES)


def test_create_is_idempotent_and_keeps_data(tmp_path):
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as w:
        w.load("contacts", _contacts([1, 2]), source="a.csv")
    with Warehouse(path) as w:  # reopening re-runs create()
        assert w.counts()["contacts"] == 2


def test_timestamps_are_utc(wh):
    wh.load("contacts", _contacts([1]), source="a.csv")
    out = wh.table("contacts")
    assert out.schema["signup_at"] == pl.Datetime("us", "UTC")
    assert out["signup_at"][0] == dt.datetime(2024, 1, 1, 9, tzinfo=UTC)


def test_reload_same_content_is_a_no_op(wh):
    first = wh.load("contacts", _contacts([1, 2]), source="a.csv", sha256="h1")
    again = wh.load("contacts", _contacts([1, 2]), source="a.csv", sha256="h1")
    assert (first.rows_loaded, again.rows_loaded, again.already_loaded) == (2, 0, True)
    assert wh.counts()["contacts"] == 2
    assert wh.counts()["loads"] == 1


def test_overlapping_load_inserts_only_new_keys(wh):
    wh.load("contacts", _contacts([1, 2]), source="a.csv", sha256="h1")
    res = wh.load("contacts", _contacts([2, 3, 3]), source="b.csv", sha256="h2")
    assert (res.rows_loaded, res.rows_duplicate) == (1, 2)
    assert sorted(wh.table("contacts")["contact_id"].to_list()) == [1, 2, 3]


def test_a_load_is_stored_in_cluster_order(wh):
    """Rows of one load are written in the table's cluster_by order (contact, then time), not in
    the file's order; a later load appends its own sorted run. Scans return storage order."""
    wh.load("contacts", _contacts([1, 2, 3]), source="c.csv")
    at = [dt.datetime(2025, 1, d, tzinfo=UTC) for d in (5, 1, 3, 2)]
    orders = pl.DataFrame(
        {
            "order_id": ["a", "b", "c", "d"],
            "contact_id": [3, 1, 3, 2],
            "ordered_at": at,
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    wh.load("orders", orders, source="o1.csv")
    again = orders.with_columns(pl.col("order_id") + "2", contact_id=4 - pl.col("contact_id"))
    wh.load("orders", again, source="o2.csv")
    stored = wh.con.execute("SELECT order_id FROM orders").fetchall()
    assert [r[0] for r in stored] == ["b", "d", "c", "a", "c2", "a2", "d2", "b2"]


def _orders(ids: list[int], days: list[int], tag: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "order_id": [f"{tag}{i}" for i in range(len(ids))],
            "contact_id": ids,
            "ordered_at": [dt.datetime(2025, 1, d, tzinfo=UTC) for d in days],
            "amount": [float(i) for i in range(len(ids))],
        }
    )


def _stored(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()  # no ORDER BY: storage order


def test_no_progress_bar_when_stdout_is_a_pipe(tmp_path):
    """DuckDB draws its progress bar on stdout, pipe or not (its default there is on): piped
    output such as `--json` must stay clean, so a Warehouse turns it off. A subprocess, because
    pytest's captured stdout already changes DuckDB's default."""
    import subprocess
    import sys

    code = (
        "import sys, duckdb; from smsanalytics.warehouse import Warehouse; "
        "q = \"SELECT current_setting('enable_progress_bar')\"; "
        "print(duckdb.connect(sys.argv[1] + '/plain.duckdb').execute(q).fetchall()[0][0]); "
        "print(Warehouse(sys.argv[1] + '/w.duckdb').con.execute(q).fetchall()[0][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]  # DuckDB's default, then the Warehouse's


def test_a_memory_limit_lets_the_block_allocator_reuse_that_much(tmp_path):
    """With ``memory_limit``, evicted buffer blocks stay mapped for reuse up to that limit
    (DuckDB's ``block_allocator_memory``, off by default); a limit above DuckDB's virtual-memory
    budget still opens, with the allocator left off."""
    settings = (
        "SELECT current_setting('memory_limit'), current_setting('block_allocator_memory')"
    )
    with Warehouse(tmp_path / "w.duckdb", memory_limit="300MB") as wh:
        limit, blocks = wh.con.execute(settings).fetchall()[0]
        assert blocks == limit and limit.endswith("MiB")
    with Warehouse(tmp_path / "w.duckdb", memory_limit="300MB", read_only=True) as wh:
        assert wh.con.execute(settings).fetchall()[0][1] == limit  # reopened: same budget
    with Warehouse(tmp_path / "big.duckdb", memory_limit="1000TB") as wh:
        assert wh.con.execute(settings).fetchall()[0][1] == "0 bytes"
    with Warehouse(tmp_path / "default.duckdb") as wh:
        assert wh.con.execute(settings).fetchall()[0][1] == "0 bytes"


def test_cluster_rewrites_many_loads_as_one_sorted_run(wh):
    wh.load("contacts", _contacts([1, 2, 3]), source="c.csv")
    for k in range(3):  # three loads, each sorted within itself only
        wh.load("orders", _orders([3, 1, 2], [k + 1, k + 2, k + 3], f"L{k}-"), source=f"o{k}.csv")
    before = sorted(_stored(wh, "SELECT * FROM orders"))
    assert [r[0] for r in _stored(wh, "SELECT contact_id FROM orders")] != sorted(
        r[0] for r in before
    )
    seconds = wh.cluster()
    assert set(seconds) == {t.name for t in schemas.ORDERED_TABLES if t.cluster_by}
    stored = _stored(wh, "SELECT contact_id, ordered_at, order_id FROM orders")
    assert stored == sorted(stored)
    assert sorted(_stored(wh, "SELECT * FROM orders")) == before  # same rows, new order
    assert wh.counts()["loads"] == 4  # nothing recorded as a load


def test_cluster_joins_a_callers_transaction(wh):
    wh.load("contacts", _contacts([1, 2, 3]), source="c.csv")
    for k in range(2):
        wh.load("orders", _orders([3, 1, 2], [k + 1, k + 2, k + 3], f"L{k}-"), source=f"o{k}.csv")
    with wh.transaction():
        wh.cluster(["orders"])
    stored = _stored(wh, "SELECT contact_id, ordered_at, order_id FROM orders")
    assert stored == sorted(stored)


def test_cluster_failing_midway_leaves_every_table_as_it_was(wh, monkeypatch):
    wh.load("contacts", _contacts([1, 2, 3]), source="c.csv")
    for k in range(2):
        wh.load("orders", _orders([3, 1, 2], [k + 1, k + 2, k + 3], f"L{k}-"), source=f"o{k}.csv")
    before = _stored(wh, "SELECT * FROM orders")
    real = schemas.cluster_order
    monkeypatch.setattr(
        schemas,
        "cluster_order",
        lambda t: " ORDER BY no_such_column" if t.name == "inbound" else real(t),
    )
    with pytest.raises(Exception, match="no_such_column"):
        wh.cluster(["orders", "inbound"])
    assert _stored(wh, "SELECT * FROM orders") == before


def test_cluster_refuses_tables_without_an_order_and_read_only_warehouses(wh, tmp_path):
    with pytest.raises(WarehouseError, match="campaigns"):
        wh.cluster(["campaigns"])
    with pytest.raises(WarehouseError, match="system table|no clustering order"):
        wh.cluster(["loads"])
    wh.close()
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as ro:
        with pytest.raises(WarehouseError, match="read-only"):
            ro.cluster()


def test_quarantine_is_recorded_with_the_load(wh):
    q = pl.DataFrame(
        {"row_number": [3], "column_name": ["phone"], "reason": ["invalid_phone"], "detail": ["x"], "raw": ["{}"]}
    )
    res = wh.load("contacts", _contacts([1]), source="a.csv", quarantine=q)
    assert res.quarantined_by_reason == {"invalid_phone": 1}
    row = wh.table("quarantine").row(0, named=True)
    assert (row["table_name"], row["source"], row["row_number"], row["load_id"]) == ("contacts", "a.csv", 3, res.load_id)
    assert res.rows_read == 2


def _snapshot(wh: Warehouse) -> dict[str, list]:
    return {t: sorted(map(str, wh.table(t).rows())) for t in schemas.TABLES}


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda f: f.with_columns(pl.lit(None, pl.String).alias("phone_e164")), id="null-required"),
        pytest.param(lambda f: f.drop("external_id"), id="missing-required-column"),
        pytest.param(lambda f: f.with_columns(pl.lit("x").alias("nonsense")), id="unknown-column"),
        pytest.param(lambda f: f.with_columns(pl.lit("not a date").alias("birthday")), id="uncastable"),
    ],
)
def test_failed_load_leaves_warehouse_exactly_as_it_was(wh, bad):
    wh.load("contacts", _contacts([1, 2]), source="a.csv", sha256="h1")
    before = _snapshot(wh)
    q = pl.DataFrame({"row_number": [1], "reason": ["invalid_phone"]})
    with pytest.raises(WarehouseError):
        wh.load("contacts", bad(_contacts([3, 4])), source="b.csv", sha256="h2", quarantine=q)
    assert _snapshot(wh) == before


def test_failure_inside_the_transaction_rolls_back(wh, monkeypatch):
    wh.load("contacts", _contacts([1]), source="a.csv")
    before = _snapshot(wh)
    q = pl.DataFrame({"row_number": [1], "reason": ["invalid_phone"]})
    # The quarantine insert runs after the rows were inserted: make it fail.
    monkeypatch.setattr(Warehouse, "_conform_quarantine", staticmethod(lambda *a: pl.DataFrame({"x": [1]})))
    with pytest.raises(Exception):
        wh.load("contacts", _contacts([5, 6]), source="c.csv", quarantine=q)
    assert _snapshot(wh) == before


def test_system_tables_cannot_be_loaded(wh):
    with pytest.raises(WarehouseError, match="system table"):
        wh.load("loads", pl.DataFrame(), source="x")


def test_query_binds_named_parameters(wh):
    wh.load("contacts", _contacts([1, 2, 3]), source="a.csv")
    out = wh.sql("SELECT count(*) AS n FROM contacts WHERE contact_id >= $low", low=2)
    assert out["n"][0] == 2
    with pytest.raises(WarehouseError, match="needs parameter"):
        wh.sql("SELECT $a AS a")
    with pytest.raises(WarehouseError, match="unknown"):
        wh.sql("SELECT $a AS a", a=1, b=2)


def test_query_names_available_relations_when_missing(wh):
    with pytest.raises(WarehouseError, match="no SQL relation 'nope'"):
        wh.query("nope")


def test_read_only_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        Warehouse(tmp_path / "missing.duckdb", read_only=True)


def test_next_id(wh):
    assert wh.next_id("contacts", "contact_id") == 1
    wh.load("contacts", _contacts([7]), source="a.csv")
    assert wh.next_id("contacts", "contact_id") == 8


def test_nested_transactions_commit_or_roll_back_together(wh):
    with wh.transaction():
        wh.load("contacts", _contacts([1]), source="a.csv")
        wh.load("contacts", _contacts([2]), source="b.csv")
    assert wh.counts()["contacts"] == 2
    before = _snapshot(wh)
    with pytest.raises(RuntimeError, match="boom"), wh.transaction():
        wh.load("contacts", _contacts([3]), source="c.csv")
        raise RuntimeError("boom")
    assert _snapshot(wh) == before


def test_force_reprocesses_same_content_and_replaces_its_quarantine(wh):
    q = pl.DataFrame({"row_number": [2], "reason": ["unknown_contact"]})
    wh.load("contacts", _contacts([1]), source="a.csv", sha256="h", quarantine=q)
    res = wh.load("contacts", _contacts([1, 2]), source="a.csv", sha256="h", force=True)
    assert (res.already_loaded, res.rows_loaded, res.rows_duplicate) == (False, 1, 1)
    assert wh.counts()["quarantine"] == 0
    assert wh.loaded_hash("contacts", "h") is not None


def test_query_inlines_the_relations_a_relation_reads(wh):
    """fct_contact_orders reads agg_contact_orders (another file of sql/): query() must inline it."""
    wh.load("contacts", _contacts([1, 2]), source="a.csv")
    orders = pl.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "contact_id": [1, 1, 2],
            "ordered_at": [
                dt.datetime(2024, 2, 1, 10, tzinfo=UTC),
                dt.datetime(2024, 3, 1, 10, tzinfo=UTC),
                dt.datetime(2024, 3, 5, 10, tzinfo=UTC),
            ],
            "amount": [10.0, 20.0, 5.0],
        }
    )
    wh.load("orders", orders, source="o.csv")
    out = wh.query("fct_contact_orders", as_of=dt.datetime(2024, 4, 1, tzinfo=UTC)).sort("contact_id")
    assert out["contact_id"].to_list() == [1, 2]
    assert out["monetary_total"].to_list() == [30.0, 5.0]


def test_comments_and_string_literals_are_told_apart():
    """A `--` inside a literal is not a comment, and a name inside a literal (an error message
    naming a relation or a `$` amount) is neither a relation reference nor a parameter."""
    sql = "SELECT 'a -- b', 'it''s $5 in fct_x', $as_of -- uses $old and fct_y\nFROM t"
    assert strip_line_comments(sql) == "SELECT 'a -- b', 'it''s $5 in fct_x', $as_of \nFROM t"
    assert code_text(sql) == "SELECT '', '', $as_of \nFROM t"
    assert sql_parameters(sql) == {"as_of"}
    quoted = """SELECT "it's" AS x, $a, 'b' FROM "fct_y" -- $c"""  # a quote inside an identifier
    assert code_text(quoted) == """SELECT "it's" AS x, $a, '' FROM "fct_y" """
    assert sql_parameters(quoted) == {"a"}


def test_bind_parameters_refuses_missing_values_and_unused_ones_unless_shared():
    sql = "SELECT $a, $b -- $c"
    assert bind_parameters(sql, {"a": 1, "b": 2}, "q") == {"a": 1, "b": 2}
    with pytest.raises(WarehouseError, match=r"'q' needs parameter\(s\) \['b'\]"):
        bind_parameters(sql, {"a": 1}, "q", allow_unused=True)
    with pytest.raises(WarehouseError, match=r"unknown: \['x'\]"):
        bind_parameters(sql, {"a": 1, "b": 2, "x": 3}, "q")
    # one set of values shared by the statements of a feature build: extras are not typos there
    shared = {"a": 1, "b": 2, "x": 3}
    assert bind_parameters(sql, shared, "q", allow_unused=True) == {"a": 1, "b": 2}
