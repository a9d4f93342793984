"""Behavioural clusters: k chosen by silhouette, readable profiles, deterministic labels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from smsanalytics.segments import ClusterModel, cluster_contacts


def _three_groups(seed: int = 1) -> pl.DataFrame:
    """Seeded contacts of three behaviours: loyal clickers, dormant one-off buyers, newcomers."""
    rng = np.random.default_rng(seed)

    def group(n, rec, orders, money, click, sent, tenure):
        return pl.DataFrame(
            {
                "recency_days": rng.normal(rec, rec * 0.1 + 1, n).clip(0).round(),
                "n_orders": rng.poisson(orders, n),
                "monetary_total": rng.gamma(5, money / 5, n),
                "click_rate": rng.beta(click * 20 + 0.1, (1 - click) * 20 + 0.1, n),
                "n_sent": rng.poisson(sent, n),
                "tenure_days": rng.normal(tenure, 20, n).clip(0).round(),
                "truth": [f"g{rec}"] * n,
            }
        )

    f = pl.concat(
        [
            group(300, 10, 8, 800, 0.3, 30, 700),
            group(500, 300, 1, 40, 0.02, 30, 400),
            group(200, 60, 3, 150, 0.1, 5, 60),
        ]
    )
    return f.with_row_index("contact_id")


@pytest.fixture(scope="module")
def fitted():
    f = _three_groups()
    return f, *cluster_contacts(f, k_range=(2, 5))


def test_silhouette_picks_the_three_generated_groups(fitted):
    f, out, model = fitted
    assert model.n_clusters_ == 3
    assert max(model.silhouette_scores_, key=model.silhouette_scores_.get) == 3
    # each generated group lands in a single cluster (adjusted Rand index = 1)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(out["truth"], out["cluster"]) == pytest.approx(1.0)


def test_profiles_are_readable(fitted):
    _, out, model = fitted
    p = model.profiles_
    assert p["contacts"].to_list() == [500, 300, 200]  # numbered by decreasing size
    assert p["share"].sum() == pytest.approx(1.0)
    names = dict(p.select("cluster", "cluster_name").iter_rows())
    assert len(set(names.values())) == 3
    assert "ormant" in names[0]  # the 500 one-off buyers from 300 days ago
    assert {"recency_days", "monetary_total", "z_click_rate"} <= set(p.columns)
    assert out.group_by("cluster_name").len().height == 3


def test_same_seed_same_labels_and_missing_values_are_filled():
    f = _three_groups().with_columns(
        pl.when(pl.col("contact_id") % 7 == 0)
        .then(None)
        .otherwise(pl.col("recency_days"))
        .alias("recency_days")
    )
    a = ClusterModel(3, sample_size=500).fit(f)
    b = ClusterModel(3, sample_size=500).fit(f)
    assert a.predict(f).equals(b.predict(f))
    assert a.predict(f).null_count() == 0


def test_too_few_contacts_raise():
    with pytest.raises(ValueError, match="at least 3"):
        ClusterModel().fit(_three_groups().head(2))
