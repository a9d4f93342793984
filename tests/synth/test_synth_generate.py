"""The generated programme: schemas, determinism, the rules every send obeys, and the truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import phonenumbers
import polars as pl
import pytest
from phonenumbers import timezone as pn_timezone

from smsanalytics import schemas
from smsanalytics.synth import KINDS, generate_programme, truth_click_probability
from smsanalytics.synth import _config as cfg
from smsanalytics.synth.generate import _phone_numbers, _text_length, french_public_holidays

N = 4000


@pytest.fixture(scope="module")
def prog():
    return generate_programme(N, months=12, seed=7)


@pytest.fixture(scope="module")
def sends(prog) -> pl.DataFrame:
    """Messages with the recipient's zone/country, the campaign kind and local send time."""
    m = prog.messages.join(
        prog.contacts.select("contact_id", "timezone", "country"), on="contact_id"
    ).join(prog.campaigns.select("campaign_id", "kind"), on="campaign_id")
    parts = []
    for zone in m["timezone"].unique().to_list():
        local = pl.col("sent_at").dt.convert_time_zone(zone)
        parts.append(
            m.filter(pl.col("timezone") == zone).with_columns(
                local.dt.hour().alias("local_hour"),
                local.dt.weekday().alias("local_weekday"),  # 1 = Monday … 7 = Sunday
                local.dt.date().alias("local_date"),
            )
        )
    return pl.concat(parts).sort("message_id")


def test_every_table_has_exactly_the_canonical_schema(prog):
    for t in schemas.CANONICAL_TABLES:
        frame = getattr(prog, t.name)
        assert frame.schema == t.polars_schema, t.name
        required = frame.select(pl.col(t.required_columns).null_count()).row(0)
        assert sum(required) == 0, t.name


def test_keys_are_unique_and_ids_canonical(prog):
    for t in schemas.CANONICAL_TABLES:
        frame = getattr(prog, t.name)
        assert frame.select(t.key).is_duplicated().sum() == 0, t.name
    assert prog.contacts["contact_id"].to_list() == list(range(1, N + 1))
    assert prog.contacts["external_id"][0] == "C0000001"
    assert prog.messages["message_id"].to_list() == list(range(1, prog.messages.height + 1))
    assert prog.messages["provider_message_id"].str.contains(r"^SM[0-9a-f]{32}$").all()
    assert prog.messages["provider_message_id"].n_unique() == prog.messages.height
    assert prog.contacts["phone_e164"].n_unique() == N
    ids = set(prog.contacts["contact_id"])
    for name in schemas.EVENT_TABLES:
        frame = getattr(prog, name)
        if "contact_id" in frame.columns:
            assert set(frame["contact_id"]) <= ids, name
    assert set(prog.messages["campaign_id"]) <= set(prog.campaigns["campaign_id"])
    assert set(prog.clicks["message_id"]) <= set(prog.messages["message_id"])
    assert set(prog.receipts["message_id"]) == set(prog.messages["message_id"])


def test_same_seed_gives_identical_frames_and_another_seed_differs():
    a = generate_programme(600, months=3, seed=11)
    b = generate_programme(600, months=3, seed=11)
    c = generate_programme(600, months=3, seed=12)
    for name in (*a.tables(), *(f"truth_{k}" for k in a.truth_tables())):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.messages.equals(c.messages)


def test_window_defaults_to_a_fixed_end(prog):
    assert prog.end == dt.date(2026, 10, 31)
    assert prog.as_of == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert prog.start == dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    assert prog.messages["sent_at"].min() >= prog.start
    assert prog.messages["sent_at"].max() < prog.as_of
    for name, col in (
        ("clicks", "clicked_at"),
        ("inbound", "received_at"),
        ("orders", "ordered_at"),
    ):
        assert getattr(prog, name)[col].max() < prog.as_of


@pytest.mark.parametrize("country", [c.code for c in cfg.COUNTRIES])
def test_phonenumbers_validates_1000_generated_numbers_of_each_country(country):
    ranges = [i for i, r in enumerate(cfg.NUMBER_RANGES) if r.country == country]
    range_idx = np.repeat(np.array(ranges, dtype=np.int8), -(-1000 // len(ranges)))
    nsn = _phone_numbers(np.random.default_rng(5), range_idx)
    cc = next(c.calling_code for c in cfg.COUNTRIES if c.code == country)
    for r, number in zip(range_idx, nsn, strict=True):
        spec = cfg.NUMBER_RANGES[r]
        parsed = phonenumbers.parse(f"+{cc}{number}")
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.region_code_for_number(parsed) == country
        kind = phonenumbers.number_type(parsed)
        expected = {
            "mobile": phonenumbers.PhoneNumberType.MOBILE,
            "fixed_line_or_mobile": phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        }[spec.phone_type]
        assert kind == expected
        if cfg.COUNTRIES[cfg.COUNTRY_INDEX[country]].zone_from_number:
            assert pn_timezone.time_zones_for_number(parsed) == (spec.zone,)


def test_contacts_are_realistic(prog):
    c = prog.contacts
    shares = c["country"].value_counts(normalize=True)
    assert set(shares["country"]) == {x.code for x in cfg.COUNTRIES}
    assert shares.filter(pl.col("country") == "FR")["proportion"][0] > 0.45
    us_zones = set(c.filter(pl.col("country") == "US")["timezone"])
    assert {
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
    } <= us_zones
    assert (c["signup_at"] < prog.start).mean() > 0.3
    assert (c["signup_at"] >= prog.start).mean() > 0.4
    assert 0.9 < (c["consent_at"] == c["signup_at"]).mean() < 0.97
    assert 0.01 < c["consent_at"].is_null().mean() < 0.06
    assert c.filter(pl.col("language") == "fr")["country"].unique().sort().to_list() == [
        "BE",
        "CH",
        "FR",
    ]
    assert 0.3 < c["points"].is_not_null().mean() < 0.6
    assert c["attributes"].str.json_decode().struct.field("store").null_count() == 0
    # an explicit zone, or one read from the number where that is unambiguous
    assert set(c["timezone_source"]) == {"explicit", "number"}
    inferred = c.filter(pl.col("timezone_source") == "number")
    assert set(inferred["country"]) <= {"FR", "BE", "CH", "US", "CA"}


def test_no_message_after_opt_out_or_without_consent(prog):
    m = prog.messages.join(prog.contacts, on="contact_id")
    assert (
        m.filter(
            pl.col("opted_out_at").is_not_null() & (pl.col("sent_at") >= pl.col("opted_out_at"))
        ).height
        == 0
    )
    assert (
        m.filter(pl.col("consent_at").is_null() | (pl.col("sent_at") < pl.col("consent_at"))).height
        == 0
    )
    assert m.filter(pl.col("sent_at") < pl.col("signup_at")).height == 0


def test_opt_outs_come_from_stop_replies(prog):
    c = prog.contacts.filter(pl.col("opted_out_at") >= prog.start)
    first_stop = (
        prog.inbound.filter(pl.col("keyword") == "STOP")
        .group_by("contact_id")
        .agg(pl.col("received_at").min())
    )
    joined = c.join(first_stop, on="contact_id", how="left")
    assert joined["received_at"].null_count() == 0
    assert (joined["received_at"] == joined["opted_out_at"]).all()
    bodies = set(prog.inbound.filter(pl.col("keyword") == "STOP")["body"])
    assert {"STOP", "stop"} <= bodies and len(bodies) >= 5
    assert {"HELP", None} <= set(prog.inbound["keyword"])
    assert 0.03 < c.height / N < 0.2


def test_sends_are_in_allowed_local_hours_and_never_on_french_sundays_or_holidays(sends):
    assert sends["local_hour"].min() >= 8
    assert sends["local_hour"].max() <= 19
    import holidays

    fr_days = set(holidays.country_holidays("FR", years=range(2025, 2027)))
    fr = sends.filter(pl.col("country") == "FR")
    assert fr.filter(pl.col("local_weekday") == 7).height == 0
    assert not set(fr["local_date"].unique()) & fr_days


def test_french_public_holidays_match_the_holidays_package():
    import holidays

    for year in (2024, 2025, 2026, 2027, 2038):
        assert french_public_holidays(year) == sorted(holidays.country_holidays("FR", years=year))


def test_volume_and_random_hour_share(prog, sends):
    per_contact_year = prog.messages.height / N / (prog.months / 12)
    assert 15 < per_contact_year < 27
    share = (prog.messages["send_time_policy"] == "random").mean()
    assert 0.15 <= share <= 0.20
    # random sends cover the allowed hours of the week roughly uniformly
    rnd = sends.filter((pl.col("send_time_policy") == "random") & (pl.col("kind") != "birthday"))
    counts = rnd.group_by("local_hour").len()["len"]
    assert counts.len() == 12 and counts.min() > 0.6 * counts.mean()
    assert set(KINDS) == set(prog.campaigns["kind"])


def test_recapture_control_groups_get_no_message(prog):
    a = prog.assignments.join(
        prog.campaigns.select("campaign_id", "kind", "holdout_share"), on="campaign_id"
    )
    rec = a.filter(pl.col("kind") == "recapture")
    assert rec.height > 0
    assert 0.17 < rec["is_holdout"].mean() < 0.23
    assert (rec.filter(pl.col("is_holdout"))["variant"] == "control").all()
    sent = prog.messages.select("campaign_id", "contact_id")
    control_with_message = rec.filter(pl.col("is_holdout")).join(
        sent, on=["campaign_id", "contact_id"]
    )
    assert control_with_message.height == 0
    treated = rec.filter(~pl.col("is_holdout")).join(
        sent, on=["campaign_id", "contact_id"], how="left"
    )
    assert treated.height >= rec.filter(~pl.col("is_holdout")).height
    assert (prog.campaigns.filter(pl.col("kind") == "recapture")["holdout_share"] == 0.2).all()


def test_ab_variants_match_assignments(prog):
    ab = prog.assignments.filter(pl.col("variant").is_in(["A", "B"]))
    assert ab.height > 0
    m = prog.messages.filter(pl.col("variant").is_in(["A", "B"]))
    joined = m.join(ab, on=["campaign_id", "contact_id"], how="left", suffix="_assigned")
    assert (joined["variant"] == joined["variant_assigned"]).all()
    assert set(prog.truth_variants.filter(pl.col("variant") == "B")["campaign_id"]) == set(
        m["campaign_id"]
    ) | set(ab["campaign_id"])


def test_receipts_have_sent_and_one_final_status(prog):
    r = prog.receipts
    per = r.group_by("message_id").agg(
        (pl.col("status") == "sent").sum().alias("sent"),
        (pl.col("status") != "sent").sum().alias("final"),
    )
    assert (per["sent"] == 1).all() and (per["final"] == 1).all()
    final = r.filter(pl.col("status") != "sent")
    assert 0.93 < (final["status"] == "delivered").mean() < 0.97
    failed = final.filter(pl.col("status") != "delivered")
    assert failed["error_code"].null_count() == 0
    assert set(failed["error_code"]) == {"30003", "30005", "30006", "30007", "30008"}
    assert (
        final.filter(pl.col("status") == "delivered")["error_code"].null_count()
        == final.filter(pl.col("status") == "delivered").height
    )
    assert prog.clicks.join(failed, on="message_id").height == 0


def test_click_delays_bots_and_user_agents(prog):
    delivered = prog.receipts.filter(pl.col("status") == "delivered").select(
        "message_id", "status_at"
    )
    k = prog.clicks.join(delivered, on="message_id").with_columns(
        (pl.col("clicked_at") - pl.col("status_at")).dt.total_milliseconds().alias("ms")
    )
    assert k.height == prog.clicks.height
    bots = k.filter(pl.col("is_bot"))
    humans = k.filter(~pl.col("is_bot"))
    assert bots.height > 0 and humans.height > 0
    assert bots["ms"].min() >= 0 and bots["ms"].max() <= 3000
    assert humans["ms"].min() >= 5000
    assert 0.8 < (humans["ms"] < 15 * 60_000).mean() < 0.97
    assert humans["ms"].max() > 3600_000  # a long tail
    bot_agents = {ua for ua, _ in cfg.BOT_USER_AGENTS}
    assert set(bots["user_agent"]) <= bot_agents
    assert not set(humans["user_agent"]) & bot_agents
    assert humans["user_agent"].str.contains("Mobile").all()


def test_orders_are_non_negative_and_stop_at_churn(prog):
    o = prog.orders.join(prog.truth_contacts.select("contact_id", "churn_at"), on="contact_id")
    assert (o["amount"] > 0).all()
    assert o.filter(pl.col("ordered_at") > pl.col("churn_at")).height == 0
    signup = prog.orders.join(prog.contacts.select("contact_id", "signup_at"), on="contact_id")
    assert signup.filter(pl.col("ordered_at") <= pl.col("signup_at")).height == 0
    t = prog.truth_contacts
    assert (t["is_alive_at_end"] == t["churn_at"].is_null()).all()
    assert set(prog.truth_orders["source"]) == {"base", "click", "recapture"}
    caused = prog.truth_orders.filter(pl.col("source") != "base")
    assert caused["message_id"].null_count() == 0


def test_truth_click_probability_reproduces_the_generator(prog, sends):
    """The per-message probability equals the documented formula at the local send hour."""
    tm = prog.truth_messages.join(
        sends.select(
            "message_id",
            "contact_id",
            "kind",
            "variant",
            "campaign_id",
            "local_hour",
            "local_weekday",
        ),
        on="message_id",
    )
    how = (
        (tm["local_weekday"].cast(pl.Int32) - 1) * 24 + tm["local_hour"].cast(pl.Int32)
    ).to_numpy()
    assert (how == tm["local_hour_of_week"].to_numpy()).all()
    tm = tm.join(
        prog.truth_variants.select("campaign_id", "variant", "click_multiplier"),
        on=["campaign_id", "variant"],
    )
    truth = prog.truth_contacts
    for kind in KINDS:
        part = tm.filter(pl.col("kind") == kind)
        rows = truth[part["contact_id"].to_numpy() - 1]
        p = truth_click_probability(
            rows,
            part["local_hour_of_week"].to_numpy(),
            kind=kind,
            alive=part["is_alive_at_send"].to_numpy(),
        )
        expected = np.minimum(p * part["click_multiplier"].to_numpy(), 0.95)
        np.testing.assert_allclose(
            part["click_probability"].to_numpy(), expected, rtol=2e-5, atol=1e-7
        )


def test_random_hour_clicks_follow_the_truth(prog):
    """Among randomised sends, clicks rise with the true probability and match it on average."""
    human = (
        prog.clicks.filter(~pl.col("is_bot"))
        .select("message_id")
        .unique()
        .with_columns(pl.lit(True).alias("clicked"))
    )
    delivered = prog.receipts.filter(pl.col("status") == "delivered").select("message_id")
    m = (
        prog.messages.filter(pl.col("send_time_policy") == "random")
        .join(delivered, on="message_id")
        .join(prog.truth_messages, on="message_id")
        .join(human, on="message_id", how="left")
        .with_columns(pl.col("clicked").fill_null(False))
    )
    edges = np.quantile(m["click_probability"].to_numpy(), [0.25, 0.5, 0.75])
    binned = m.with_columns(
        pl.Series("q", np.searchsorted(edges, m["click_probability"].to_numpy()))
    )
    rate = (
        binned.group_by("q")
        .agg(pl.col("clicked").mean(), pl.col("click_probability").mean())
        .sort("q")
    )
    assert rate["clicked"].is_sorted()
    assert rate["clicked"][-1] > 2 * rate["clicked"][0]
    se = np.sqrt((m["click_probability"] * (1 - m["click_probability"])).sum()) / m.height
    assert abs(m["clicked"].mean() - m["click_probability"].mean()) < 4 * se


def test_oracle_hour_beats_the_global_best_hour(prog):
    allowed = np.array([h for h in range(168) if 8 <= h % 24 < 20 and h // 24 < 6])
    p = truth_click_probability(prog.truth_contacts, allowed[None, :], alive=True)
    assert p.shape == (N, allowed.size)
    ratio = p.max(axis=1).mean() / p.mean(axis=0).max()
    assert 1.5 <= ratio <= 2.2


def test_truth_click_probability_shapes_and_errors(prog):
    t = prog.truth_contacts
    assert truth_click_probability(t, 10).shape == (N,)
    assert truth_click_probability(t, np.full(N, 30)).shape == (N,)
    assert truth_click_probability(t.head(3), np.arange(168)[None, :]).shape == (3, 168)
    with pytest.raises(ValueError, match="unknown kind"):
        truth_click_probability(t, 10, kind="spam")
    with pytest.raises(ValueError, match="between 0"):
        truth_click_probability(t, 168)
    with pytest.raises(ValueError, match="one hour per row"):
        truth_click_probability(t, np.arange(5))
    with pytest.raises(KeyError, match="base_click"):
        truth_click_probability(t.drop("base_click"), 10)


def test_segments_and_encoding_match_the_rendered_text(prog):
    m = prog.messages.sample(400, seed=1).join(
        prog.contacts.select("contact_id", "first_name", "points"), on="contact_id"
    )
    m = m.join(
        prog.truth_variants.select("campaign_id", "variant", "template"),
        on=["campaign_id", "variant"],
    )
    for row in m.iter_rows(named=True):
        text = (
            row["template"]
            .replace("{first_name}", row["first_name"] or "")
            .replace("{link}", "x" * cfg.LINK_LENGTH)
            .replace("{points}", str(row["points"]) if row["points"] is not None else "")
        )
        gsm, length = _text_length(text)
        single, multi = (160, 153) if gsm else (70, 67)
        assert row["encoding"] == ("GSM-7" if gsm else "UCS-2"), text
        assert row["segments"] == (1 if length <= single else -(-length // multi)), text
    assert {"GSM-7", "UCS-2"} == set(prog.messages["encoding"])
    assert (prog.messages["cost"] > 0).all()


def test_templates_carry_placeholders_and_opt_out_footers(prog):
    c = prog.campaigns
    assert c["template"].str.contains("{link}", literal=True).all()
    fr = c.filter(pl.col("campaign_id").str.ends_with("-fr"))
    assert fr["template"].str.ends_with("STOP au 36111").all()
    assert (
        c.filter(pl.col("campaign_id").str.ends_with("-uk"))["template"]
        .str.contains("Reply STOP")
        .all()
    )
    assert (
        c.filter(pl.col("kind") == "promotional")["template"]
        .str.contains("{first_name}", literal=True)
        .all()
    )
    assert (c["sender_id"].str.len_chars() <= 11).all()


def test_generate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_contacts"):
        generate_programme(0)
    with pytest.raises(ValueError, match="months"):
        generate_programme(10, months=0)
