"""Send plans: rows, exclusions, variants, holdout, windows, caps across plans, exports."""

from __future__ import annotations

import csv
import datetime as dt
import json

import polars as pl
import pytest

from smsanalytics import compliance
from smsanalytics.adapters.ledger import reserve_plan
from smsanalytics.experiments.design import assign_arms
from smsanalytics.plan import (
    CSV_COLUMNS,
    PLAN_COLUMNS,
    Experiment,
    PlanError,
    Variant,
    idempotency_key,
    load_campaign,
    plan_campaign,
    plan_sends,
    read_plan,
    write_plan,
)
from smsanalytics.settings import Settings

UTC = dt.UTC
TS = pl.Datetime("us", "UTC")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris


@pytest.fixture
def contacts(make_contacts):
    return make_contacts(
        [
            {"contact_id": 1, "first_name": "Zoë"},
            {
                "contact_id": 2,
                "first_name": "Ann",
                "phone_e164": "+13055550123",
                "phone_type": "fixed_line_or_mobile",
                "country": "US",
                "timezone": "America/New_York",
                "timezone_source": "number",
            },
            {
                "contact_id": 3,
                "first_name": "Bob",
                "opted_out_at": dt.datetime(2025, 5, 1, tzinfo=UTC),
            },
            {
                "contact_id": 4,
                "first_name": "Cy",
                "phone_e164": "+33142345678",
                "phone_type": "fixed_line",
            },
            {"contact_id": 5, "first_name": None, "timezone": None, "timezone_source": "unknown"},
            {"contact_id": 6, "first_name": "Dee"},
            {"contact_id": 7, "first_name": "Eve", "consent_at": None},
        ]
    )


def test_every_audience_contact_is_planned_or_excluded_with_a_reason(contacts):
    plan = plan_sends(
        [1, 2, 3, 4, 5, 6, 7, 99],
        "Hi {first_name|there}!",
        NOW,
        campaign_id="c1",
        contacts=contacts,
        settings=Settings(),
        now=NOW,
    )
    assert list(plan.rows.columns) == list(PLAN_COLUMNS)
    assert sorted(plan.rows.get_column("contact_id")) == [1, 2, 6]
    reasons = dict(plan.exclusions.select("contact_id", "reason").iter_rows())
    assert reasons == {
        3: "opted_out",
        4: "landline",
        5: "unknown_timezone",
        7: "no_consent",
        99: "unknown_contact",
    }
    assert plan.manifest["excluded_by_reason"] == {
        "landline": 1,
        "no_consent": 1,
        "opted_out": 1,
        "unknown_contact": 1,
        "unknown_timezone": 1,
    }
    assert plan.manifest["counts"] == {"audience": 8, "planned": 3, "excluded": 5}
    row = plan.rows.filter(pl.col("contact_id") == 1).row(0, named=True)
    assert (row["text"], row["encoding"], row["segments"], row["jurisdiction"]) == (
        "Hi Zoë!",
        "UCS-2",
        1,
        "FR",
    )
    assert row["cost"] == pytest.approx(0.045)
    assert row["window_start_at"] == NOW and row["window_end_at"] == NOW + dt.timedelta(hours=1)
    assert row["window_start_local"] == dt.datetime(2026, 3, 2, 10, 0)
    # New York at 09:00Z is 04:00 local: moved to 08:00 local (13:00Z); a Florida number: FL rules
    us = plan.rows.filter(pl.col("contact_id") == 2).row(0, named=True)
    assert (us["jurisdiction"], us["is_moved"], us["window_start_at"]) == (
        "US+US-FL",
        True,
        dt.datetime(2026, 3, 2, 13, tzinfo=UTC),
    )
    assert us["window_start_local"] == dt.datetime(2026, 3, 2, 8, 0)
    assert plan.is_validated and "phone" not in json.dumps(plan.manifest)


def test_idempotency_keys_are_sha256_of_the_identity(contacts):
    plan = plan_sends(
        [1, 2, 6], "Hi", NOW, campaign_id="c1", contacts=contacts, settings=Settings(), now=NOW
    )
    for cid, variant, key in plan.rows.select(
        "contact_id", "variant", "idempotency_key"
    ).iter_rows():
        assert key == idempotency_key("c1", cid, variant)
    again = plan_sends(
        [6, 1, 2],
        "Hello",
        NOW + dt.timedelta(hours=2),
        campaign_id="c1",
        contacts=contacts,
        settings=Settings(),
        now=NOW,
    )
    assert set(again.rows.get_column("idempotency_key")) == set(
        plan.rows.get_column("idempotency_key")
    )


def test_check_plan_finds_each_kind_of_violation(contacts):
    """The internal re-check (``compliance.check_plan``) on a valid plan, then on broken copies."""
    plan = plan_sends(
        [1, 2, 6], "Hi", NOW, campaign_id="c1", contacts=contacts, settings=Settings(), now=NOW
    )
    rules = compliance.load_rules(Settings().compliance_rules)
    rows = plan.rows
    assert compliance.check_plan(rows, rules).height == 0

    def problems(frame, prior=None):
        found = compliance.check_plan(frame, rules, prior=prior)
        return sorted(found.select("idempotency_key", "problem").iter_rows())

    key = dict(rows.select("contact_id", "idempotency_key").iter_rows())
    # the same contact twice (a second key), and the same key twice
    twice = pl.concat(
        [
            rows,
            rows.filter(pl.col("contact_id") == 6).with_columns(
                pl.lit("f" * 32).alias("idempotency_key")
            ),
        ]
    )
    assert problems(twice) == sorted([(key[6], "duplicate"), ("f" * 32, "duplicate")])
    assert problems(pl.concat([rows, rows.head(1)])) == [
        (rows.item(0, "idempotency_key"), "duplicate")
    ]
    # a number that is not E.164
    bad = rows.with_columns(
        pl.when(pl.col("contact_id") == 1)
        .then(pl.lit("0612345678"))
        .otherwise("phone_e164")
        .alias("phone_e164")
    )
    assert problems(bad) == [(key[1], "invalid_phone")]
    # a window at 03:00-04:00 in Paris, inside the quiet hours
    night = dt.datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    quiet = rows.with_columns(
        pl.when(pl.col("contact_id") == 6)
        .then(pl.lit(night, TS))
        .otherwise("window_start_at")
        .alias("window_start_at"),
        pl.when(pl.col("contact_id") == 6)
        .then(pl.lit(night + dt.timedelta(hours=1), TS))
        .otherwise("window_end_at")
        .alias("window_end_at"),
    )
    assert problems(quiet) == [(key[6], "quiet_hours")]
    # one message already sent to contact 1 that local day: the cap is 1 a local day
    prior = pl.DataFrame(
        {"contact_id": [1], "start_at": [NOW - dt.timedelta(hours=1)]},
        schema={"contact_id": pl.Int64, "start_at": TS},
    ).with_columns(pl.col("start_at").alias("end_at"))
    assert problems(rows, prior) == [(key[1], "frequency_cap 1/local_day")]


def test_variants_and_holdout_follow_the_experiments_hash(make_contacts):
    many = make_contacts([{"contact_id": i, "first_name": "A"} for i in range(1, 401)])
    plan = plan_sends(
        many.get_column("contact_id"),
        [Variant("A", "Promo A"), Variant("B", "Promo B", weight=3)],
        (NOW, NOW + dt.timedelta(days=2)),
        Experiment(salt="s1", holdout=0.2),
        campaign_id="c2",
        contacts=many,
        settings=Settings(),
        now=NOW,
    )
    expected = assign_arms(
        pl.Series(range(1, 401)), salt="s1", weights={"control": 0.2, "A": 0.2, "B": 0.6}
    )
    got = plan.assignments.select("contact_id", "variant", "is_holdout").sort("contact_id")
    assert got.equals(expected.select("contact_id", "variant", "is_holdout").sort("contact_id"))
    held = set(got.filter(pl.col("is_holdout")).get_column("contact_id"))
    assert held == set(
        plan.exclusions.filter(pl.col("reason") == "holdout").get_column("contact_id")
    )
    assert held.isdisjoint(plan.rows.get_column("contact_id"))
    counts = plan.manifest["by_variant"]
    assert counts["A"]["messages"] + counts["B"]["messages"] + len(held) == 400
    assert 0.1 < len(held) / 400 < 0.3 and counts["B"]["messages"] > 2 * counts["A"]["messages"]
    assert dict(plan.rows.select("variant", "text").unique().iter_rows()) == {
        "A": "Promo A",
        "B": "Promo B",
    }


def test_per_contact_windows_from_a_send_time_model(contacts):
    windows = pl.DataFrame(
        {
            "contact_id": [1, 6],
            "window_start_at": [
                dt.datetime(2026, 3, 2, 20, tzinfo=UTC),
                dt.datetime(2026, 3, 3, 10, tzinfo=UTC),
            ],
            "window_end_at": [
                dt.datetime(2026, 3, 2, 22, tzinfo=UTC),
                dt.datetime(2026, 3, 3, 11, tzinfo=UTC),
            ],
        },
        schema_overrides={"window_start_at": TS, "window_end_at": TS},
    )
    plan = plan_sends(
        [1, 2, 6], "Hi", windows, campaign_id="c3", contacts=contacts, settings=Settings(), now=NOW
    )
    rows = {r["contact_id"]: r for r in plan.rows.iter_rows(named=True)}
    # 21:00-23:00 Paris is quiet: moved to 08:00 the next morning (07:00Z), same length
    assert (rows[1]["window_start_at"], rows[1]["window_end_at"]) == (
        dt.datetime(2026, 3, 3, 7, tzinfo=UTC),
        dt.datetime(2026, 3, 3, 9, tzinfo=UTC),
    )
    assert (
        rows[6]["window_start_at"] == dt.datetime(2026, 3, 3, 10, tzinfo=UTC)
        and not rows[6]["is_moved"]
    )
    assert plan.exclusions.filter(pl.col("contact_id") == 2).item(0, "reason") == "no_window"
    assert set(plan.rows.get_column("send_time_policy")) == {"fixed"}
    # the send-time model's own frame: start_at/end_at and a policy per contact
    model = windows.rename({"window_start_at": "start_at", "window_end_at": "end_at"}).with_columns(
        pl.Series("send_time_policy", ["optimised", "random"])
    )
    plan = plan_sends(
        [1, 6], "Hi", model, campaign_id="c3", contacts=contacts, settings=Settings(), now=NOW
    )
    policies = dict(plan.rows.select("contact_id", "send_time_policy").iter_rows())
    assert policies == {1: "optimised", 6: "random"}


def test_inputs_are_checked(contacts):
    with pytest.raises(PlanError, match="campaign_id"):
        plan_sends(
            [1], "Hi", NOW, campaign_id="bad id", contacts=contacts, settings=Settings(), now=NOW
        )
    with pytest.raises(PlanError, match="distinct names"):
        plan_sends(
            [1],
            [Variant("A", "x"), Variant("A", "y")],
            NOW,
            campaign_id="c",
            contacts=contacts,
            settings=Settings(),
            now=NOW,
        )
    with pytest.raises(PlanError, match="timezone-aware"):
        plan_sends(
            [1],
            "Hi",
            dt.datetime(2026, 3, 2, 9),
            campaign_id="c",
            contacts=contacts,
            settings=Settings(),
            now=NOW,
        )
    with pytest.raises(PlanError, match="empty"):
        plan_sends(
            [1], "Hi", (NOW, NOW), campaign_id="c", contacts=contacts, settings=Settings(), now=NOW
        )


def test_exports_are_atomic_with_a_manifest_of_hashes(tmp_path, contacts):
    plan = plan_sends(
        [1, 2, 6, 7],
        "Hi {first_name|there}",
        NOW,
        campaign_id="c4",
        contacts=contacts,
        settings=Settings(),
        now=NOW,
        sender_id="ACME",
    )
    out = tmp_path / "plan"
    files = write_plan(plan, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "plan.parquet",
            "exclusions.parquet",
            "assignments.parquet",
            "plan.csv",
            "plan.jsonl",
            "manifest.json",
        ]
    )
    assert set(files) == {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {
        "plan.parquet",
        "exclusions.parquet",
        "assignments.parquet",
        "plan.csv",
        "plan.jsonl",
    }
    with open(out / "plan.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_COLUMNS)
    first = next(r for r in rows if r["contact_id"] == "1")
    assert (first["phone_number"], first["message"], first["send_at"], first["local_send_at"]) == (
        "+33612340001",
        "Hi Zoë",
        "2026-03-02T09:00:00Z",
        "2026-03-02 10:00",
    )
    lines = [json.loads(line) for line in (out / "plan.jsonl").read_text().splitlines()]
    assert {line["idempotency_key"] for line in lines} == set(
        plan.rows.get_column("idempotency_key")
    )
    assert pl.read_parquet(out / "exclusions.parquet").columns == [
        "campaign_id",
        "contact_id",
        "reason",
        "detail",
    ]
    assert "+336" not in (out / "exclusions.parquet").read_bytes().decode("latin-1")
    assert read_plan(out).rows.equals(plan.rows)
    (out / "plan.csv").write_text("phone_number,message\n+33600000000,spam\n")
    with pytest.raises(PlanError, match="does not match the manifest"):
        read_plan(out)


def test_caps_count_messages_sent_and_other_campaigns_planned(make_contacts, warehouse_factory):
    contacts = make_contacts([{"contact_id": i} for i in range(1, 5)])
    messages = pl.DataFrame(
        {
            "message_id": [1],
            "contact_id": [1],
            "campaign_id": ["old"],
            "variant": ["default"],
            "sent_at": [NOW - dt.timedelta(hours=1)],
        },  # same local day in Paris
        schema_overrides={"sent_at": TS},
    )
    inbound = pl.DataFrame(
        {
            "contact_id": [2],
            "received_at": [NOW - dt.timedelta(days=1)],
            "body": ["Stop"],
            "keyword": [None],
        },
        schema_overrides={"received_at": TS, "keyword": pl.String},
    )
    wh = warehouse_factory(contacts, inbound=inbound, messages=messages)
    first = plan_sends(
        [1, 2, 3], "A", NOW, campaign_id="camp-a", warehouse=wh, settings=Settings(), now=NOW
    )
    assert dict(first.exclusions.select("contact_id", "reason").iter_rows()) == {
        1: "frequency_cap",
        2: "opted_out",
    }
    assert first.exclusions.filter(pl.col("contact_id") == 1).item(0, "detail") == "cap 1/local_day"
    reserve_plan(wh, first)
    second = plan_sends(
        [3, 4],
        "B",
        NOW + dt.timedelta(hours=3),
        campaign_id="camp-b",
        warehouse=wh,
        settings=Settings(),
        now=NOW,
    )
    assert dict(second.exclusions.select("contact_id", "reason").iter_rows()) == {
        3: "frequency_cap"
    }
    # re-planning campaign A replaces its reservation instead of counting against itself
    again = plan_sends(
        [1, 2, 3], "A", NOW, campaign_id="camp-a", warehouse=wh, settings=Settings(), now=NOW
    )
    assert sorted(again.rows.get_column("contact_id")) == [3]
    assert reserve_plan(wh, again) == 1
    assert wh.sql("SELECT count(*) AS n FROM planned_sends").item() == 1


def test_campaign_file_plans_against_a_warehouse(tmp_path, make_contacts, warehouse_factory):
    contacts = make_contacts(
        [
            {
                "contact_id": i,
                "first_name": f"N{i}",
                "country": "FR" if i % 2 else "BE",
                "phone_e164": f"+3361234{i:04d}" if i % 2 else f"+3247012{i:04d}",
                "timezone": "Europe/Paris" if i % 2 else "Europe/Brussels",
            }
            for i in range(1, 41)
        ]
    )
    wh = warehouse_factory(contacts)
    path = tmp_path / "camp.toml"
    path.write_text(
        """
[campaign]
id = "spring-promo"
name = "Spring promo"
kind = "promotional"
sender_id = "ACME"

[audience]
countries = ["FR"]

[message]
fields = { shop = "ACME" }

[[variants]]
name = "A"
template = "{shop}: -20% for you {first_name}! STOP 36173"

[[variants]]
name = "B"
template = "{shop}: a gift for you {first_name}. STOP 36173"

[window]
start = "now"
end = "+2d"

[experiment]
holdout = 0.1
"""
    )
    campaign = load_campaign(path)
    plan = plan_campaign(campaign, warehouse=wh, settings=Settings(), now=NOW)
    assert plan.manifest["audience"]["size"] == 20
    assert set(plan.rows.get_column("country")) == {"FR"}
    assert plan.manifest["campaign"] == {
        "name": "Spring promo",
        "kind": "promotional",
        "file": str(path),
        "sender_id": "ACME",
    }
    assert plan.manifest["audience"]["definition"]["filter"] == "country in ['FR']"
    assert plan.rows.height + plan.manifest["excluded_by_reason"].get("holdout", 0) == 20
    assert plan.rows.get_column("text").str.starts_with("ACME: ").all()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[campaign]\nid = "x"\n[message]\ntemplate = "hi"\n'
        '[window]\nstart = "tomorrow"\nend = "+1d"\n'
    )
    with pytest.raises(PlanError, match="not 'now'"):
        plan_campaign(load_campaign(bad), warehouse=wh, settings=Settings(), now=NOW)


@pytest.mark.parametrize("distinct", [3, 400])
def test_export_formats_each_distinct_window_once_with_strftimes_result(distinct):
    """write_plan's _strftime maps rows to their distinct instant's text (few distinct
    windows) or formats every row (mostly distinct): either way polars' strftime, nulls kept."""
    from smsanalytics.plan import _strftime

    base = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
    instants = [base + dt.timedelta(minutes=7 * (i % distinct)) for i in range(500)]
    frame = pl.DataFrame({"at": [None if i % 11 == 0 else t for i, t in enumerate(instants)]})
    fmt = "%Y-%m-%dT%H:%M:%S%.6fZ"
    got = _strftime(frame, "at", fmt)
    assert got.name == "at" and got.dtype == pl.String
    assert got.equals(frame.get_column("at").dt.strftime(fmt))
    assert got[1] == "2026-03-02T07:07:00.000000Z" and got[0] is None


def test_content_hash_is_sha256_of_the_documented_lines(monkeypatch):
    """plan._content_hash against hashlib over the lines its docstring defines, built in Python:
    texts with newlines, U+001F, quotes, commas and non-ASCII, in chunks of 2 rows."""
    import hashlib

    from smsanalytics import plan as plan_module

    start = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    texts = ['Hi "Zoë", -20%', "line\nbreak", "a\x1fb", "x,y;z", "Ана 🎉", "plain"]
    rows = pl.DataFrame(
        {
            "idempotency_key": [f"{i:032x}" for i in range(len(texts))],
            "phone_e164": [f"+3361234567{i}" for i in range(len(texts))],
            "text": texts,
            "window_start_at": [start + dt.timedelta(minutes=i) for i in range(len(texts))],
            "window_end_at": [start + dt.timedelta(hours=1, seconds=i) for i in range(len(texts))],
        },
        schema_overrides={"window_start_at": TS, "window_end_at": TS},
    )

    def micros(t: dt.datetime) -> int:
        return (t - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)

    lines = "".join(
        f"{r['idempotency_key']}\x1f{r['phone_e164']}\x1f{r['text']}\x1f"
        f"{micros(r['window_start_at'])}\x1f{micros(r['window_end_at'])}\n"
        for r in rows.iter_rows(named=True)
    )
    expected = hashlib.sha256(lines.encode()).hexdigest()
    assert plan_module._content_hash(rows) == expected
    monkeypatch.setattr(plan_module, "_HASH_CHUNK_ROWS", 2)
    assert plan_module._content_hash(rows) == expected
    assert plan_module._content_hash(rows.head(0)) == hashlib.sha256().hexdigest()
