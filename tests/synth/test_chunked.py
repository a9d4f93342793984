"""The chunked generator: disjoint ids, the same campaigns in every chunk, the in-memory schemas,
byte-identical files for a seed, and the warehouse filled chunk by chunk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from smsanalytics import schemas
from smsanalytics.synth import generate_programme
from smsanalytics.synth.chunked import (
    chunk_seed,
    generate_programme_parquet,
    load_parts,
    parquet_glob,
)
from smsanalytics.warehouse import Warehouse

N, CHUNK, MONTHS, SEED = 3_000, 1_000, 3, 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chunked")
    generate_programme_parquet(
        N,
        out / "prog",
        seed=SEED,
        chunk=CHUNK,
        months=MONTHS,
        truth=True,
        warehouse=out / "warehouse.duckdb",
    )
    return out / "prog"


@pytest.fixture(scope="module")
def meta(folder) -> dict:
    return json.loads((folder / "meta.json").read_text())


def read(folder: Path, table: str, *, truth: bool = False) -> pl.DataFrame:
    return pl.read_parquet(parquet_glob(folder, table, truth=truth))


def test_one_part_file_per_chunk_and_shared_tables_once(folder, meta):
    assert len(meta["chunks"]) == N // CHUNK
    for t in schemas.CANONICAL_TABLES:
        parts = sorted((folder / f"{t.name}.parquet").glob("*.parquet"))
        expected = 1 if t.name == "campaigns" else N // CHUNK
        assert [p.name for p in parts] == [f"part-{k:05d}.parquet" for k in range(expected)]
    assert len(list((folder / "truth" / "variants.parquet").glob("*.parquet"))) == 1


def test_ids_are_unique_across_chunks(folder, meta):
    contacts = read(folder, "contacts")
    assert contacts["contact_id"].to_list() == list(range(1, N + 1))
    for col in ("external_id", "phone_e164"):
        assert contacts[col].n_unique() == N, col
    assert contacts["external_id"][CHUNK] == f"C{CHUNK + 1:07d}"
    messages = read(folder, "messages")
    assert messages["message_id"].to_list() == list(range(1, messages.height + 1))
    assert messages["provider_message_id"].n_unique() == messages.height
    orders = read(folder, "orders")
    assert orders["order_id"].n_unique() == orders.height
    assert orders["order_id"].str.contains(r"^ORD-\d{8}$").all()
    # every chunk's contacts and messages are the ranges the meta says, and events point into them
    for k, info in enumerate(meta["chunks"]):
        part = pl.read_parquet(folder / "messages.parquet" / f"part-{k:05d}.parquet")
        lo, hi = info["contact_id"]
        assert part["contact_id"].is_between(lo, hi).all()
        assert [part["message_id"].min(), part["message_id"].max()] == info["message_id"]
    for t in schemas.CANONICAL_TABLES:
        frame = read(folder, t.name)
        assert frame.select(t.key).is_duplicated().sum() == 0, t.name
    ids = set(messages["message_id"].to_list())
    for name in ("receipts", "clicks"):
        assert set(read(folder, name)["message_id"].unique().to_list()) <= ids, name
    for name in ("messages", "clicks", "inbound", "orders", "assignments"):
        assert read(folder, name)["contact_id"].is_between(1, N).all(), name
    clicks = read(folder, "clicks").join(
        messages.select("message_id", pl.col("contact_id").alias("sent_to")), on="message_id"
    )
    assert (clicks["contact_id"] == clicks["sent_to"]).all()


def test_every_chunk_gets_the_same_campaigns(folder):
    campaigns = read(folder, "campaigns")
    messages = read(folder, "messages")
    assert set(messages["campaign_id"].unique().to_list()) <= set(campaigns["campaign_id"])
    per_chunk = [
        set(
            pl.read_parquet(p)
            .filter(~pl.col("campaign_id").str.starts_with("auto-"))["campaign_id"]
            .unique()
            .to_list()
        )
        for p in sorted((folder / "messages.parquet").glob("*.parquet"))
    ]
    assert per_chunk[0] == per_chunk[1] == per_chunk[2]
    # the calendar is the one of the programme's seed: an in-memory programme with that seed
    # has the same campaigns table
    assert campaigns.equals(generate_programme(50, months=MONTHS, seed=SEED).campaigns)
    # and a chunk with another seed sends the same A/B arms of each campaign
    arms = (
        messages.group_by("campaign_id", "variant")
        .agg(pl.col("contact_id").min().alias("first"), pl.col("contact_id").max().alias("last"))
        .filter(pl.col("variant").is_in(["A", "B"]))
    )
    assert (arms["first"] <= CHUNK).all() and (arms["last"] > 2 * CHUNK).all()


def test_schemas_equal_the_in_memory_generator(folder):
    prog = generate_programme(200, months=MONTHS, seed=SEED)
    for name, frame in prog.tables().items():
        assert read(folder, name).schema == frame.schema == schemas.table(name).polars_schema
    for name, frame in prog.truth_tables().items():
        assert read(folder, name, truth=True).schema == frame.schema, name


def test_row_counts_are_the_sum_of_the_chunks_and_close_to_one_programme(folder, meta):
    for name in (t.name for t in schemas.CANONICAL_TABLES):
        total = read(folder, name).height
        assert meta["rows"][name] == total
        if name != "campaigns":
            assert total == sum(c["rows"][name] for c in meta["chunks"]), name
    prog = generate_programme(N, months=MONTHS, seed=SEED)
    for name in ("contacts", "campaigns", "messages", "receipts"):
        assert meta["rows"][name] == pytest.approx(prog.tables()[name].height, rel=0.05), name


def test_chunk_zero_is_the_in_memory_programme(tmp_path):
    meta = generate_programme_parquet(400, tmp_path / "p", seed=SEED, chunk=1_000, months=1)
    assert meta["chunks"][0]["seed"] == SEED == chunk_seed(SEED, 0)
    prog = generate_programme(400, months=1, seed=SEED)
    for name, frame in prog.tables().items():
        assert read(tmp_path / "p", name).equals(frame), name


def test_the_same_seed_gives_the_same_files(folder, tmp_path):
    generate_programme_parquet(
        N, tmp_path / "again", seed=SEED, chunk=CHUNK, months=MONTHS, truth=True
    )

    def digests(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.parquet"))
            if p.is_file()
        }

    first, second = digests(folder), digests(tmp_path / "again")
    assert first and first == second
    other = generate_programme_parquet(N, tmp_path / "other", seed=SEED + 1, chunk=CHUNK, months=1)
    assert (
        other["rows"]["messages"]
        != json.loads((folder / "meta.json").read_text())["rows"]["messages"]
    )


def test_phone_numbers_used_by_an_earlier_chunk_are_redrawn():
    from smsanalytics.synth.chunked import _dedupe_phones

    contacts = pl.DataFrame({"phone_e164": ["+33612345678", "+12125550123", "+447700900123"]})
    seen = np.array([33612345678, 447700900123], dtype=np.int64)
    out, used, redrawn = _dedupe_phones(contacts, seen, np.random.default_rng(0))
    assert redrawn == 2
    new = out["phone_e164"].to_list()
    assert new[1] == "+12125550123"
    assert new[0] != "+33612345678" and new[0].startswith("+3361234")
    assert new[2] != "+447700900123" and new[2].startswith("+44770090")
    assert used.tolist() == sorted([*seen.tolist(), *(int(p[1:]) for p in new)])


def test_the_warehouse_holds_every_part(folder, meta):
    with Warehouse(folder.parent / "warehouse.duckdb", read_only=True) as wh:
        for name in (t.name for t in schemas.CANONICAL_TABLES):
            count = wh.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            assert count == meta["rows"][name], name


def _stored(path: Path, sql: str) -> list[tuple]:
    with Warehouse(path, read_only=True) as wh:
        return wh.con.execute(sql).fetchall()


def test_the_warehouse_is_clustered_by_contact(folder):
    """Each chunk is inserted in cluster_by order and chunks hold disjoint contacts, so a scan of
    messages (storage order) comes out sorted by contact, then send time."""
    stored = _stored(folder.parent / "warehouse.duckdb", "SELECT contact_id, sent_at FROM messages")
    assert len(stored) > 10_000
    assert stored == sorted(stored)


def test_load_parts_rebuilds_the_same_warehouse(folder, meta, tmp_path):
    rebuilt = tmp_path / "rebuilt.duckdb"
    seconds = load_parts(folder, rebuilt)
    assert seconds > 0
    for t in schemas.CANONICAL_TABLES:
        cols = ", ".join(t.column_names)
        sql = f"SELECT {cols} FROM {t.name}"  # storage order: the same clustered order
        assert _stored(rebuilt, sql) == _stored(folder.parent / "warehouse.duckdb", sql), t.name


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="n_contacts"):
        generate_programme_parquet(0, tmp_path / "x")
    with pytest.raises(ValueError, match="chunk"):
        generate_programme_parquet(10, tmp_path / "x", chunk=0)


def test_docstring_examples_run():
    import doctest

    from smsanalytics.synth import chunked

    result = doctest.testmod(chunked, optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed
