"""Seeded checks that the data recover the ground truth they were generated from."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from smsanalytics.synth import generate_programme

N = 5000


@pytest.fixture(scope="module")
def prog():
    return generate_programme(N, months=12, seed=21)


def test_recapture_control_groups_recover_the_true_uplift(prog):
    """Difference in 14-day order rates, treated minus control, against the truth (ITT)."""
    rc = prog.truth_recapture
    delivered = prog.receipts.filter(pl.col("status") == "delivered").select("message_id")
    reached = (
        prog.messages.join(delivered, on="message_id")
        .select("campaign_id", "contact_id")
        .with_columns(pl.lit(True).alias("reached"))
    )
    y = (
        rc.join(prog.orders.select("contact_id", "ordered_at"), on="contact_id", how="left")
        .with_columns(
            (
                (pl.col("ordered_at") > pl.col("assigned_at"))
                & (pl.col("ordered_at") < pl.col("assigned_at") + pl.duration(days=14))
            )
            .fill_null(False)
            .alias("y")
        )
        .group_by("campaign_id", "contact_id", "is_holdout")
        .agg(pl.col("y").any(), pl.col("uplift_14d").first())
        .join(reached, on=["campaign_id", "contact_id"], how="left")
        .with_columns(pl.col("reached").fill_null(False))
    )
    treated, control = y.filter(~pl.col("is_holdout")), y.filter(pl.col("is_holdout"))
    diff = treated["y"].mean() - control["y"].mean()
    se = np.sqrt(treated["y"].var() / treated.height + control["y"].var() / control.height)
    expected = (treated["uplift_14d"] * treated["reached"]).mean()
    assert expected > 0.005
    assert abs(diff - expected) < 4 * se


def test_uplift_depends_on_observable_frequency(prog):
    t = prog.truth_contacts
    rho = stats.spearmanr(t["recapture_uplift"], t["purchase_rate_per_year"]).statistic
    assert rho > 0.4
    freq = prog.orders.group_by("contact_id").len().rename({"len": "orders"})
    joined = t.join(freq, on="contact_id", how="left").with_columns(pl.col("orders").fill_null(0))
    assert stats.spearmanr(joined["recapture_uplift"], joined["orders"]).statistic > 0.15


def test_purchase_process_follows_mbg_nbd(prog):
    t = prog.truth_contacts.join(prog.contacts.select("contact_id", "signup_at"), on="contact_id")
    # dropout at signup happens with probability p
    at_signup = (t["churn_at"] == t["signup_at"]).fill_null(False)
    p = t["dropout_p"].to_numpy()
    assert abs(at_signup.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    # contacts alive at the end bought as a Poisson process of rate λ since signup (base orders;
    # the hour-of-day reshuffle loses a few orders on the signup day itself)
    base = prog.orders.join(prog.truth_orders.filter(pl.col("source") == "base"), on="order_id")
    count = base.group_by("contact_id").len()
    alive = (
        t.filter(pl.col("is_alive_at_end"))
        .join(count, on="contact_id", how="left")
        .with_columns(pl.col("len").fill_null(0))
    )
    years = (prog.as_of - alive["signup_at"]).dt.total_seconds().to_numpy() / (365.25 * 86400)
    mean = (alive["purchase_rate_per_year"].to_numpy() * years).sum()
    # conditioning on survival removes heavy buyers (more chances to drop out), so the observed
    # count is at most the unconditional mean and not far below it
    assert 0.6 * mean < alive["len"].sum() < 1.05 * mean + 4 * np.sqrt(mean)
    # churned contacts: their last base order is the churn time (or signup)
    last = base.group_by("contact_id").agg(pl.col("ordered_at").max())
    churned = t.filter(
        ~pl.col("is_alive_at_end") & (pl.col("churn_at") != pl.col("signup_at"))
    ).join(last, on="contact_id")
    assert (churned["ordered_at"] == churned["churn_at"]).all()


def test_churned_contacts_click_less(prog):
    human = (
        prog.clicks.filter(~pl.col("is_bot"))
        .select("message_id")
        .unique()
        .with_columns(pl.lit(True).alias("c"))
    )
    m = prog.truth_messages.join(human, on="message_id", how="left").with_columns(
        pl.col("c").fill_null(False)
    )
    rate = m.group_by("is_alive_at_send").agg(pl.col("c").mean()).sort("is_alive_at_send")
    assert rate["c"][0] < 0.6 * rate["c"][1]
