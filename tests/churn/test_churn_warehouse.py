"""Churn labels, ChurnModel, the evaluation, recapture ranking, charts and CLI on warehouses."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
import typer
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner

from smsanalytics.charts.churn import (
    chart_p_alive,
    chart_qini,
    chart_reliability,
    chart_uplift_by_decile,
)
from smsanalytics.churn import (
    BGNBD,
    ChurnModel,
    build_churn_dataset,
    churn_labels,
    churn_periods,
    churn_scores,
    evaluate_churn,
    expected_calibration_error,
    reliability_table,
)
from smsanalytics.cli import churn as churn_cli
from smsanalytics.recapture import (
    evaluate_recapture_ranking,
    recapture_candidates,
    recapture_training_data,
    recommend_holdout,
)
from smsanalytics.settings import Settings
from smsanalytics.uplift import uplift_by_percentile
from smsanalytics.warehouse import Warehouse


@pytest.fixture(autouse=True)
def _one_thread():
    """One OpenMP/BLAS thread: on a shared, oversubscribed machine spinning worker threads make
    gradient boosting tens of times slower than a single thread."""
    with threadpool_limits(limits=1):
        yield


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture()
def tiny() -> Warehouse:
    """Five contacts whose labels at 2026-03-01 with H = 30 days are known by construction."""
    wh = Warehouse(":memory:")
    orders = pl.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
            "contact_id": [1, 1, 2, 3, 4, 5, 5],
            "ordered_at": [
                _ts("2026-01-10"),
                _ts("2026-03-05"),
                _ts("2026-02-01"),
                _ts("2026-03-10"),
                _ts("2026-02-20"),
                _ts("2026-01-01"),
                _ts("2026-03-31"),
            ],
            "amount": [10.0, 20.0, 5.0, 7.0, 8.0, 9.0, 11.0],
        }
    )
    wh.load("orders", orders, source="test")
    clicks = pl.DataFrame(
        {
            "message_id": [1, 2],
            "contact_id": [4, 2],
            "clicked_at": [_ts("2026-03-10"), _ts("2026-03-12")],
            "is_bot": [False, True],
        }
    )
    wh.load("clicks", clicks, source="test")
    yield wh
    wh.close()


def test_churn_label_follows_its_definition(tiny):
    labels = churn_labels(tiny, cutoff="2026-03-01", horizon_days=30)
    got = dict(zip(labels["contact_id"], labels["is_churned"], strict=True))
    # 1 ordered in the window; 2 and 4 did not; 3 first bought after the cut-off (not a buyer);
    # 5's order at exactly cutoff + 30 days falls outside the half-open window
    assert got == {1: False, 2: True, 4: True, 5: True}
    with_clicks = churn_labels(tiny, cutoff="2026-03-01", horizon_days=30, require_no_click=True)
    got = dict(zip(with_clicks["contact_id"], with_clicks["is_churned"], strict=True))
    assert got == {1: False, 2: True, 4: False, 5: True}  # a bot click is not activity
    assert labels.filter(pl.col("contact_id") == 1)["amount_horizon"].item() == 20.0


def test_churn_label_refuses_an_unobserved_window(tiny):
    with pytest.raises(ValueError, match="ends after the last event"):
        churn_labels(tiny, cutoff="2026-03-01", horizon_days=60)
    assert (
        churn_labels(tiny, cutoff="2026-03-01", horizon_days=60, check_observed=False).height == 4
    )


def test_churn_dataset_is_point_in_time(tiny):
    data = build_churn_dataset(tiny, cutoff="2026-03-01", horizon_days=30, features="orders")
    row = data.filter(pl.col("contact_id") == 1).row(0, named=True)
    # the order of 2026-03-05 is in the label window, never in the features
    assert row["n_orders"] == 1 and row["bgnbd_frequency"] == 0 and row["bgnbd_t_days"] == 50
    assert row["is_churned"] is False
    periods = churn_periods("2026-03-01", horizon_days=30)
    assert periods.train_cutoff == _ts("2026-01-30") and periods.horizon_end == _ts("2026-03-31")


def test_reliability_table_and_scores_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.12, 0.85, 0.95, 0.9])
    table = reliability_table(y, p, n_bins=10)
    assert table["n"].to_list() == [1, 2, 1, 2]
    assert table.filter(pl.col("bin") == 1)["observed"].item() == 0.5
    ece = (1 * 0.05 + 2 * abs(0.5 - 0.135) + 1 * abs(1 - 0.85) + 2 * abs(0.5 - 0.925)) / 6
    assert expected_calibration_error(y, p) == pytest.approx(ece)
    scores = churn_scores(y, p)
    assert scores["auc"] == pytest.approx(roc_auc_score(y, p))
    assert scores["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_churn_model_is_calibrated_on_a_known_probability():
    rng = np.random.default_rng(0)
    n = 12_000
    recency = rng.integers(0, 400, n)
    orders = rng.integers(1, 12, n)
    truth = 1 / (1 + np.exp(-(-1.5 + recency / 100 - 0.2 * orders)))
    y = rng.random(n) < truth
    frame = pl.DataFrame({"contact_id": np.arange(n), "recency_days": recency, "n_orders": orders})
    model = ChurnModel(max_iter=80).fit(frame[:8000], y[:8000])
    p = model.predict_proba(frame[8000:])[:, 1]
    assert model.feature_names_in_ == ["recency_days", "n_orders"]
    assert roc_auc_score(y[8000:], p) > roc_auc_score(y[8000:], truth[8000:]) - 0.02
    assert expected_calibration_error(y[8000:], p) < 0.04
    assert model.predict_churn(frame[:3]).columns == ["contact_id", "churn_probability"]
    with pytest.raises(ValueError, match="single class"):
        ChurnModel().fit(frame[:10], np.zeros(10))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A 12-month generated programme of 2,000 contacts in a DuckDB file, with its truth."""
    from smsanalytics.synth import generate_programme

    programme = generate_programme(2_000, months=12, seed=1)
    path = tmp_path_factory.mktemp("churn") / "warehouse.duckdb"
    with Warehouse(path) as wh:
        for name, frame in programme.tables().items():
            wh.load(name, frame, source="synth")
    return path, programme


def test_evaluation_on_generated_data_with_ground_truth(generated):
    path, programme = generated
    with Warehouse(path, read_only=True) as wh:
        cutoff = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
        truth = programme.truth_contacts.select(
            "contact_id",
            (pl.col("churn_at").is_not_null() & (pl.col("churn_at") < cutoff)).alias(
                "is_dead_truth"
            ),
        )
        ev = evaluate_churn(wh, cutoff=cutoff, horizon_days=90, truth=truth, dataset="generated")
    table = ev.table
    assert table.height == 6 and set(table["label"]) == {"observed", "truth"}
    obs = {r["score"]: r for r in table.filter(pl.col("label") == "observed").iter_rows(named=True)}
    assert obs["churn_model"]["auc"] > 0.65
    assert obs["bgnbd_p_no_purchase"]["auc"] > 0.65
    # 1 - P(alive) is not a forecast of "no order in H": much worse Brier than the model's
    assert obs["bgnbd_1_minus_p_alive"]["brier"] > obs["churn_model"]["brier"] + 0.05
    assert ev.one_time_buyers.mean_p_alive_one_time == 1.0
    assert ev.scores["contact_id"].is_unique().all()
    assert chart_reliability(ev.reliability).to_dict()["layer"]


def test_recapture_candidates_rank_by_expected_incremental_value(generated):
    path, _ = generated
    settings = Settings()
    with Warehouse(path, read_only=True) as wh:
        result = recapture_candidates(
            wh, as_of="2026-10-01", settings=settings, min_expected_value=None
        )
        top = recapture_candidates(
            wh, as_of="2026-10-01", settings=settings, top=25, holdout_share=0.2
        )
    c = result.candidates
    assert c.height > 50 and c["contact_id"].is_unique().all()
    assert set(c["lifecycle_stage"]) <= {"at_risk", "lapsed"}
    value = c["expected_incremental_value"].to_numpy()
    assert np.all(np.diff(value) <= 1e-12)
    expected = c["uplift"] * c["expected_order_value"] - c["message_cost"]
    np.testing.assert_allclose(value, expected.to_numpy())
    costs = {country: settings.price_for(country) for country in c["country"].unique().to_list()}
    assert all(
        abs(cost - costs[country]) < 1e-12
        for country, cost in zip(c["country"], c["message_cost"], strict=True)
    )
    assert c["reason"].str.contains("P(alive)", literal=True).all()
    assert (
        result.summary["selected"]
        == c.height
        == result.summary["treated"] + result.summary["holdout"]
    )
    assert top.candidates.height == 25 and top.candidates["rank"].to_list() == list(range(1, 26))
    assert top.holdout.share == 0.2 and top.summary["holdout"] == int(
        top.candidates["is_holdout"].sum()
    )


def test_recapture_training_data_uses_only_finished_windows(generated):
    path, _ = generated
    with Warehouse(path, read_only=True) as wh:
        data = recapture_training_data(wh, before="2026-03-01")
    assert data.height > 0
    assert (data["assigned_at"] + dt.timedelta(days=14) <= _ts("2026-03-01")).all()
    assert set(data["treatment"].unique()) == {0, 1}
    # features are as of the assignment day: no order on or after it is counted
    assert (
        data["last_order_at"].is_null()
        | (data["last_order_at"] < data["assigned_at"].dt.truncate("1d"))
    ).all()


def test_recapture_ranking_against_the_true_uplift(generated):
    path, programme = generated
    with Warehouse(path, read_only=True) as wh:
        report = evaluate_recapture_ranking(wh, programme.truth_recapture, test_from="2026-07-01")
    assert report["n_test"] > 500
    assert report["spearman"] > 0.1
    assert report["true_uplift_top_k"] > report["true_uplift_all"]


def test_recommended_holdout_is_the_smallest_powered_share():
    rec = recommend_holdout(20_000, expected_uplift=0.02, baseline_rate=0.05)
    assert rec.is_powered and rec.power >= 0.8 and 0.05 <= rec.share < 0.5
    smaller = recommend_holdout(
        20_000,
        expected_uplift=0.02,
        baseline_rate=0.05,
        min_share=rec.share - 0.01,
        max_share=rec.share - 0.01,
    )
    assert smaller.power < 0.8
    weak = recommend_holdout(200, expected_uplift=0.005, baseline_rate=0.05)
    assert not weak.is_powered and weak.share == 0.5


def test_charts_build():
    rng = np.random.default_rng(1)
    n = 2_000
    t = rng.integers(0, 2, n)
    u = rng.normal(size=n)
    y = (rng.random(n) < 0.1 + 0.05 * t * (u > 0)).astype(int)
    assert chart_qini(y, u, t, perfect=True).to_dict()["layer"]
    assert chart_uplift_by_decile(uplift_by_percentile(y, u, t)).to_dict()["layer"]
    model = BGNBD()
    model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    spec = chart_p_alive(model, T=39.0, unit="weeks").to_dict()
    assert spec["mark"]["type"] == "rect"


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(churn_cli.app, name="churn")
    app.command("recapture")(churn_cli.recapture)
    return app


def test_cli_churn_evaluate_and_recapture_print_json(generated, tmp_path):
    path, _ = generated
    runner = CliRunner()
    result = runner.invoke(
        _cli(), ["churn", "evaluate", "-w", str(path), "--cutoff", "2026-07-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    table = payload["evaluations"][0]["table"]
    assert {row["score"] for row in table} == {
        "bgnbd_1_minus_p_alive",
        "bgnbd_p_no_purchase",
        "churn_model",
    }
    out = tmp_path / "candidates.csv"
    result = runner.invoke(
        _cli(),
        [
            "recapture",
            "--as-of",
            "2026-10-01",
            "--top",
            "30",
            "-w",
            str(path),
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["selected"] == 30 and summary["holdout_size"] == summary["holdout"]
    assert summary["expected_incremental_value"] > 0
    assert pl.read_csv(out).height == 30
    bad = runner.invoke(_cli(), ["recapture", "--as-of", "01/10/2026", "-w", str(path)])
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_online_retail_evaluation_matches_the_documented_table():
    # docs/churn-and-recapture.md reports this run (cut-off 2011-09-10, H = 90 days)
    from smsanalytics.churn import evaluate_online_retail

    ev = evaluate_online_retail()
    assert (ev.n_train, ev.n_test) == (2_806, 3_364)
    assert ev.churn_rate_test == pytest.approx(0.4304, abs=1e-4)
    auc = {r["score"]: r["auc"] for r in ev.table.iter_rows(named=True)}
    assert auc["bgnbd_p_no_purchase"] == pytest.approx(0.732, abs=0.002)
    assert auc["churn_model"] > 0.69
    # the maximum-likelihood fit has no dropout (a -> 0): P(alive) ~ 1 for all, flagged
    assert any("boundary" in w for w in ev.bgnbd_warnings)
    assert ev.one_time_buyers.share_one_time == pytest.approx(0.4212, abs=1e-4)


def test_churn_model_ignores_a_feature_column_with_no_value():
    """A programme without links has no click features: the model must still fit (scikit-learn's
    histogram binning fails on an all-NaN column). Found on a 3-month demo warehouse."""
    import numpy as np
    import polars as pl

    from smsanalytics.churn import ChurnModel

    rng = np.random.default_rng(0)
    n = 400
    recency = rng.integers(0, 200, n)
    frame = pl.DataFrame(
        {
            "recency_days": recency,
            "n_orders": rng.integers(1, 6, n),
            "monetary_total": rng.gamma(2.0, 30.0, n),
            "days_since_last_click": pl.Series([None] * n, dtype=pl.Float64),
        }
    )
    y = (recency + rng.normal(0, 40, n) > 100).astype(int)
    model = ChurnModel(max_iter=20).fit(frame, y)
    assert "days_since_last_click" not in model.feature_names_in_
    p = model.predict_proba(frame)[:, 1]
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
