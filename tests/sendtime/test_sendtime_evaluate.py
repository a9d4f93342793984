"""Evaluations: generator ground truth, Online Retail, control-arm readout, the bootstrap."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sendtime_data import programme

from smsanalytics.experiments import ProportionStatistic, two_proportion_ztest
from smsanalytics.sendtime import (
    STRATEGIES,
    SendTimeError,
    evaluate_online_retail,
    evaluate_programme,
    readout_send_time,
)
from smsanalytics.sendtime.evaluate import bootstrap_ratio_means

RETAIL = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "external"
    / "online_retail"
    / "online_retail.parquet"
)


def test_model_beats_global_best_and_naive_against_the_generators_truth_10k() -> None:
    ev = evaluate_programme(programme(10_000, 0), n_boot=300)
    ctr = ev.expected_ctr
    assert list(ctr) == list(STRATEGIES)
    assert ctr["random"] < ctr["global_best"] < ctr["model"] < ctr["oracle"]
    assert ctr["naive"] < ctr["model"]
    # the paired intervals of the lifts exclude zero
    assert ev.intervals["lift_over_global_best_abs"][0] > 0
    assert ev.intervals["lift_over_naive_abs"][0] > 0
    lo, hi = ev.intervals["share_of_oracle_gain"]
    assert 0.15 < lo <= ev.share_of_oracle_gain <= hi < 0.6
    for s in STRATEGIES:
        assert ev.intervals[s][0] <= ctr[s] <= ev.intervals[s][1]
    assert sum(ev.levels.values()) == ev.n_eval_contacts and ev.levels["contact"] > 0
    assert ev.to_dict()["cutoff"] == "2026-09-02T00:00:00+00:00"  # as_of 2026-11-01 minus 60 days
    assert ev.table().height == 5


def test_random_strategy_equals_the_truth_averaged_over_allowed_hours() -> None:
    from smsanalytics.synth import truth_click_probability

    prog = programme(3000, 0)
    ev = evaluate_programme(prog, n_boot=50)
    # independent recomputation of the random baseline straight from the truth function
    cutoff = prog.as_of - dt.timedelta(days=60)
    later = (
        prog.messages.filter(pl.col("sent_at") >= cutoff)
        .join(prog.truth_messages, on="message_id")
        .join(prog.campaigns.select("campaign_id", "kind"), on="campaign_id")
        .join(
            prog.truth_variants.select("campaign_id", "variant", "click_multiplier"),
            on=["campaign_id", "variant"],
            how="left",
        )
        .filter(~pl.col("kind").is_in(["welcome", "thank_you"]))
    )
    total = 0.0
    for (kind,), g in later.group_by("kind"):
        rows = prog.truth_contacts[g["contact_id"].to_numpy() - 1].with_columns(
            g["is_alive_at_send"].alias("is_alive_at_end")
        )
        hours = (g["local_hour_of_week"].to_numpy() // 24)[:, None] * 24 + np.arange(8, 20)[None, :]
        p = (
            truth_click_probability(rows, hours, kind=kind)
            * g["click_multiplier"].fill_null(1.0).to_numpy()[:, None]
        )
        total += np.minimum(p, 0.95).mean(1).sum()
    assert ev.expected_ctr["random"] == pytest.approx(total / later.height, rel=1e-9)


@pytest.mark.skipif(not RETAIL.is_file(), reason="vendored Online Retail data not present")
def test_online_retail_model_predicts_later_order_hours_better_than_global_and_empirical() -> None:
    from smsanalytics.features import load_online_retail

    orders, _ = load_online_retail(RETAIL)
    table = evaluate_online_retail(orders, n_boot=300)
    rows = {r["method"]: r for r in table.iter_rows(named=True)}
    assert set(rows) == {"global", "empirical", "model"}
    assert rows["model"]["loglik_vs_global_ci_low"] > 0  # paired interval above zero
    assert rows["empirical"]["mean_loglik"] < rows["global"]["mean_loglik"]
    assert rows["model"]["top3_hit_rate"] >= rows["global"]["top3_hit_rate"]
    assert rows["model"]["customers"] > 1500 and rows["model"]["orders"] > 4000


def test_readout_matches_the_two_proportion_z_test() -> None:
    n = 400
    policy = ["optimised"] * 250 + ["random"] * 150
    messages = pl.DataFrame(
        {
            "message_id": np.arange(1, n + 1),
            "contact_id": np.arange(1, n + 1),
            "sent_at": [dt.datetime(2026, 5, 12, 18, tzinfo=dt.UTC)] * n,
            "send_time_policy": policy,
            "campaign_id": ["c1"] * n,
        }
    )
    clicked = [i for i in range(1, 251) if i % 5 == 0] + [i for i in range(251, 401) if i % 10 == 0]
    clicks = pl.DataFrame(
        {
            "message_id": clicked + [1],
            "clicked_at": [dt.datetime(2026, 5, 12, 18, 3, tzinfo=dt.UTC)] * (len(clicked) + 1),
            "is_bot": [False] * len(clicked) + [True],
        }
    )
    out = readout_send_time(messages, clicks, campaign_id="c1")
    ref = two_proportion_ztest(ProportionStatistic(150, 15), ProportionStatistic(250, 50))
    assert (out.optimised_n, out.optimised_responses, out.random_n, out.random_responses) == (
        250,
        50,
        150,
        15,
    )
    assert out.lift_abs == pytest.approx(0.1) and out.p_value == pytest.approx(ref.p_value)
    assert out.ci_abs == pytest.approx((ref.ci_abs_low, ref.ci_abs_high))
    with pytest.raises(SendTimeError, match="random"):
        readout_send_time(messages.filter(pl.col("send_time_policy") == "optimised"), clicks)


def test_cluster_bootstrap_matches_the_delta_method() -> None:
    rng = np.random.default_rng(4)
    counts = rng.integers(1, 8, 4000).astype(float)
    sums = rng.binomial(counts.astype(int), 0.1)[:, None].astype(float)
    reps = bootstrap_ratio_means(sums, counts, n_boot=800, seed=1)
    r = sums.sum() / counts.sum()
    se = np.sqrt(((sums[:, 0] - r * counts) ** 2).sum()) / counts.sum()
    assert reps.mean() == pytest.approx(r, rel=0.01)
    assert reps.std() == pytest.approx(se, rel=0.12)
