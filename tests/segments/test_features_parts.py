"""The feature table computed part by part (ranges of contact ids) equals the one-query table."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import AS_OF, load_frames
from polars.testing import assert_frame_equal

import smsanalytics.features as features
from smsanalytics.features import contact_features, contact_parts, write_contact_features
from smsanalytics.warehouse import Warehouse


@pytest.fixture(scope="module")
def generated():
    """800 generated contacts whose ids are made sparse (×7 + 3): parts cannot be id ranges of
    a fixed width, they must follow the ids present."""
    synth = pytest.importorskip("smsanalytics.synth")
    programme = synth.generate_programme(800, months=4, seed=11)
    frames = {}
    for name, frame in programme.tables().items():
        if "contact_id" in frame.columns:
            frame = frame.with_columns(pl.col("contact_id") * 7 + 3)
        frames[name] = frame
    with Warehouse(":memory:") as wh:
        load_frames(wh, frames)
        yield wh, programme.as_of


def _temp_objects(wh: Warehouse) -> list[tuple[str, str]]:
    return wh.con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = 'temp' ORDER BY 1"
    ).fetchall()


def test_contact_parts_cover_every_id_once_and_are_even(generated):
    wh, _ = generated
    parts = contact_parts(wh, 150)
    assert len(parts) == 6  # ceil(800 / 150)
    assert parts[0][0] is None and parts[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(parts[:-1], parts[1:], strict=True))
    ids = wh.sql("SELECT contact_id FROM contacts")["contact_id"]
    sizes = [
        ids.filter(
            (ids > (lo if lo is not None else -1)) & (ids <= (hi if hi is not None else 2**62))
        ).len()
        for lo, hi in parts
    ]
    assert sum(sizes) == 800 and max(sizes) <= 150 and min(sizes) >= 100
    assert contact_parts(wh, 800) == [(None, None)]
    with pytest.raises(ValueError, match="positive integer"):
        contact_parts(wh, 0)


@pytest.mark.parametrize("per_part", [37, 799])
def test_parts_give_the_one_query_table(generated, per_part):
    wh, as_of = generated
    for when in (as_of, dt.datetime(2026, 8, 20, 6, tzinfo=dt.UTC)):
        whole = contact_features(wh, as_of=when, contacts_per_part=None)
        timings: dict[str, float] = {}
        parts = contact_features(wh, as_of=when, contacts_per_part=per_part, timings=timings)
        # sms_cost sums doubles in another order per part: compare with a tolerance
        assert_frame_equal(parts, whole, check_exact=False, rel_tol=1e-12)
        assert parts["contact_id"].is_sorted()
        assert {"delivered_blocks", "agg_contact_messages", features.FEATURE_RELATION} <= set(
            timings
        )
    assert _temp_objects(wh) == []  # views, staged relations and helper tables all dropped


def test_parts_on_the_hand_made_programme(wh):
    """Edge cases of the hand-made programme (orphan events, opt-outs, DST) survive parting."""
    assert_frame_equal(
        contact_features(wh, as_of=AS_OF, contacts_per_part=1),
        contact_features(wh, as_of=AS_OF, contacts_per_part=None),
    )


def test_written_parts_read_as_the_frame(generated, tmp_path):
    wh, as_of = generated
    out = write_contact_features(wh, tmp_path / "features", as_of=as_of, contacts_per_part=300)
    assert out == tmp_path / "features"
    assert sorted(p.name for p in out.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["features"]  # no temporary folder left
    written = pl.read_parquet(out / "*.parquet").sort("contact_id")
    assert_frame_equal(
        written,
        contact_features(wh, as_of=as_of, contacts_per_part=None),
        check_exact=False,
        rel_tol=1e-12,
    )
    # written again: the folder is replaced as a whole (one part now)
    write_contact_features(wh, out, as_of=as_of, contacts_per_part=10_000)
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]
    # and then as one file in place of the folder, and back
    write_contact_features(wh, out, as_of=as_of)
    assert out.is_file() and pl.read_parquet(out).height == written.height
    write_contact_features(wh, out, as_of=as_of, contacts_per_part=400)
    assert out.is_dir() and len(list(out.iterdir())) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["features"]
    assert _temp_objects(wh) == []


def test_a_failed_part_leaves_the_previous_folder(generated, tmp_path, monkeypatch):
    """The second part fails: the folder written before must stay as it was, nothing else left."""
    wh, as_of = generated
    out = write_contact_features(wh, tmp_path / "features", as_of=as_of, contacts_per_part=400)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []
    real = features._narrow_contact_tables

    def failing(warehouse, tables, lo, hi):
        calls.append((lo, hi))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(warehouse, tables, lo, hi)

    settings = _settings(wh)
    monkeypatch.setattr(features, "_narrow_contact_tables", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_contact_features(wh, out, as_of=as_of, contacts_per_part=400)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["features"]
    assert _temp_objects(wh) == []
    assert _settings(wh) == settings  # the engine settings of the run are put back


def _settings(wh: Warehouse) -> tuple[object, ...]:
    return wh.con.execute(
        "SELECT current_setting('perfect_ht_threshold'), "
        "current_setting('preserve_insertion_order')"
    ).fetchall()[0]


def test_engine_settings_are_put_back(generated, tmp_path):
    """The run changes perfect_ht_threshold and preserve_insertion_order for its own statements
    only: the session's values (here not DuckDB's defaults) are restored afterwards."""
    wh, as_of = generated
    wh.con.execute("SET perfect_ht_threshold = 9").fetchall()
    wh.con.execute("SET preserve_insertion_order = true").fetchall()
    contact_features(wh, as_of=as_of)
    write_contact_features(wh, tmp_path / "f.parquet", as_of=as_of)
    assert _settings(wh) == (9, True)
    wh.con.execute("SET preserve_insertion_order = false").fetchall()
    contact_features(wh, as_of=as_of)
    assert _settings(wh) == (9, False)
    wh.con.execute("RESET perfect_ht_threshold").fetchall()
    wh.con.execute("RESET preserve_insertion_order").fetchall()


def test_perfect_hash_only_for_per_contact_aggregates_of_dense_tables(generated):
    """Perfect-hash aggregation (an array over the contact-id range, cleared by every thread)
    is asked for only by the statements that aggregate a table with many rows per contact."""
    steps = [*features.FEATURE_STAGES, features.FEATURE_RELATION]
    chosen = features._perfect_hash_steps(steps, {"messages"}, "duckdb")
    assert [s for s, c in zip(steps, chosen, strict=True) if c] == ["agg_contact_messages"]
    chosen = features._perfect_hash_steps(steps, {"messages", "orders"}, "duckdb")
    assert [s for s, c in zip(steps, chosen, strict=True) if c] == [
        "agg_contact_messages",
        "fct_contact_orders",  # agg_contact_orders is inlined in it
    ]
    assert features._perfect_hash_steps(steps, set(), "duckdb") == [False] * len(steps)
    # one statement (nothing staged): it holds every aggregate
    assert features._perfect_hash_steps([features.FEATURE_RELATION], {"inbound"}, "portable") == [
        True
    ]
    wh, _ = generated
    counts = wh.con.execute(
        "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM messages), "
        "(SELECT count(*) FROM orders)"
    ).fetchall()[0]
    per_contact = features._PERFECT_HASH_MIN_ROWS_PER_CONTACT * counts[0]
    expected = [
        t for t, n in zip(("messages", "orders"), counts[1:], strict=True) if n >= per_contact
    ]
    assert features._dense_tables(wh.con, ["messages", "orders"]) == expected
    assert features._dense_tables(wh.con, []) == []
