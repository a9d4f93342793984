"""Staged runs: stages two at a time on cursors sharing an attached catalog, or one at a time in
a transaction; the same table either way, and nothing left behind (smsanalytics.features)."""

from __future__ import annotations

import duckdb
import pytest
from conftest import load_frames
from polars.testing import assert_frame_equal

import smsanalytics.features as features
from smsanalytics.features import contact_features
from smsanalytics.warehouse import Warehouse


@pytest.fixture(scope="module")
def generated():
    synth = pytest.importorskip("smsanalytics.synth")
    programme = synth.generate_programme(600, months=4, seed=5)
    with Warehouse(":memory:") as wh:
        load_frames(wh, programme.tables())
        yield wh, programme.as_of


def _left_behind(wh: Warehouse) -> list[tuple[str, ...]]:
    """Attached catalogs other than the warehouse's own, and temporary tables or views."""
    catalogs = wh.con.execute(
        "SELECT database_name FROM duckdb_databases() "
        "WHERE database_name NOT IN ('system', 'temp', current_database())"
    ).fetchall()
    temp = wh.con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = 'temp'"
    ).fetchall()
    return [*catalogs, *temp]


def _session(wh: Warehouse) -> tuple[object, ...]:
    return wh.con.execute(
        "SELECT current_setting('search_path'), current_setting('perfect_ht_threshold'), "
        "current_setting('threads')"
    ).fetchall()[0]


def test_stages_inside_a_transaction_run_one_at_a_time_with_the_same_result(generated):
    """Another cursor cannot see a transaction's uncommitted rows, so inside one the stages run
    on the connection itself, in temporary tables; the table is the same as outside."""
    wh, as_of = generated
    timings: dict[str, float] = {}
    outside = contact_features(wh, as_of=as_of, timings=timings)
    assert set(features.FEATURE_STAGES) <= set(timings)
    with wh.transaction():
        inside = contact_features(wh, as_of=as_of)
        assert _left_behind(wh) == []
    assert_frame_equal(inside, outside)
    assert _left_behind(wh) == []


def test_a_failing_stage_stops_the_run_and_leaves_nothing(generated, monkeypatch):
    """One stage fails while another may be running: the error is raised, the attached catalog
    is detached, and the session's search_path and settings are as before."""
    wh, as_of = generated
    wh.con.execute("SET search_path = 'memory.main'").fetchall()
    wh.con.execute("SET perfect_ht_threshold = 9").fetchall()
    wh.con.execute("SET threads = 3").fetchall()  # 2 while the stages run (stage_threads)
    before = _session(wh)
    real = features.compile_relation

    def compile_relation(name, **kwargs):
        if name == "agg_contact_clicks":
            return "SELECT CAST(error('disk on fire') AS BIGINT) AS contact_id"
        return real(name, **kwargs)

    monkeypatch.setattr(features, "compile_relation", compile_relation)
    with pytest.raises(duckdb.Error, match="disk on fire"):
        contact_features(wh, as_of=as_of)
    assert _left_behind(wh) == []
    assert _session(wh) == before
    wh.con.execute("RESET search_path").fetchall()
    wh.con.execute("RESET perfect_ht_threshold").fetchall()
    wh.con.execute("RESET threads").fetchall()


def _threads_seen_by_a_stage(con: duckdb.DuckDBPyConnection) -> int:
    """Run one stage in a two-worker area of ``con``: the ``threads`` setting it saw."""
    area = features._StageArea(con, workers=2)
    try:
        seen = "SELECT CAST(current_setting('threads') AS BIGINT) AS threads"
        area.run([features._StageJob("seen", seen, {}, 12)], None)
        return con.execute("SELECT threads FROM seen").fetchall()[0][0]
    finally:
        area.close()


def test_concurrent_stages_share_the_cores_the_pool_had():
    """While two stages run at once DuckDB's pool has stage_threads(t, 2) = t - 1 threads (each
    statement also runs on the thread that executes it: t runnable threads in all); it is put
    back afterwards."""
    con = duckdb.connect()
    con.execute("SET threads = 4").fetchall()
    assert _threads_seen_by_a_stage(con) == 3
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(4,)]
    assert [features.stage_threads(t, 2) for t in (1, 2, 3, 8)] == [1, 1, 2, 7]
    con.close()


def test_concurrent_stages_respect_external_threads():
    """DuckDB refuses fewer threads than external_threads: with 2 of each, the stages keep 2."""
    con = duckdb.connect()
    con.execute("SET external_threads = 2").fetchall()
    con.execute("SET threads = 2").fetchall()
    assert _threads_seen_by_a_stage(con) == 2
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(2,)]
    con.close()


def test_a_stage_waits_for_the_tables_it_reads():
    """Jobs run two at a time, but a job that reads another's table starts after it is done."""
    con = duckdb.connect()
    area = features._StageArea(con, workers=2)
    try:
        slow = "SELECT range AS x FROM range(3000000) ORDER BY hash(range)"
        jobs = [
            features._StageJob("slow_numbers", slow, {}, 12),
            features._StageJob("count_of_them", "SELECT count(*) AS n FROM slow_numbers", {}, 12),
            features._StageJob("independent", "SELECT 42 AS answer", {}, 12),
        ]
        timings: dict[str, float] = {}
        area.run(jobs, timings)
        assert set(timings) == {"slow_numbers", "count_of_them", "independent"}
        assert con.execute("SELECT n FROM count_of_them").fetchall() == [(3_000_000,)]
        assert con.execute("SELECT answer FROM independent").fetchall() == [(42,)]
    finally:
        area.close()
    assert con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'smsanalytics_stages'"
    ).fetchall() == [(0,)]
    con.close()
