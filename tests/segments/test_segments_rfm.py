"""RFM scores and named segments."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.segments import (
    NO_PURCHASE_SEGMENT,
    RFM_SEGMENT_MAP,
    RFM_SEGMENTS,
    compute_rfm,
    segment_counts,
)


def _frame(recency, orders, money):
    n = len(recency)
    return pl.DataFrame(
        {
            "contact_id": list(range(1, n + 1)),
            "recency_days": recency,
            "n_orders": orders,
            "monetary_total": money,
        },
        schema={
            "contact_id": pl.Int64,
            "recency_days": pl.Int64,
            "n_orders": pl.Int64,
            "monetary_total": pl.Float64,
        },
    )


def test_segment_map_covers_the_grid_with_the_eleven_named_segments():
    assert set(RFM_SEGMENT_MAP) == {(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert set(RFM_SEGMENT_MAP.values()) == set(RFM_SEGMENTS)
    assert len(RFM_SEGMENTS) == 11
    assert RFM_SEGMENT_MAP[(5, 5)] == "Champions" and RFM_SEGMENT_MAP[(1, 1)] == "Lost"
    assert RFM_SEGMENT_MAP[(5, 1)] == "New" and RFM_SEGMENT_MAP[(1, 5)] == "Can't lose them"


def test_quintiles_of_distinct_values():
    f = _frame(list(range(10, 0, -1)), list(range(1, 11)), [float(v) for v in range(1, 11)])
    out = compute_rfm(f)
    assert out["r_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # lower recency is better
    assert out["f_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out["rfm_cell"][-1] == "555" and out["rfm_segment"][-1] == "Champions"


def test_ties_share_a_score_and_row_order_does_not_matter():
    f = _frame([5, 5, 5, 9, 1, 1], [1, 1, 1, 1, 2, 7], [10.0, 10.0, 20.0, 5.0, 5.0, 80.0])
    a = compute_rfm(f)
    b = compute_rfm(f.reverse()).sort("contact_id")
    assert a.equals(b)
    assert a["f_score"].to_list()[:4] == [1, 1, 1, 1]  # 4 of 6 buyers have one order
    assert len(set(a["r_score"].to_list()[:3])) == 1


def test_contacts_without_orders_are_in_their_own_segment():
    f = _frame([None, 3], [0, 2], [0.0, 50.0])
    out = compute_rfm(f)
    assert out.row(0, named=True)["rfm_segment"] == NO_PURCHASE_SEGMENT
    assert out.row(0, named=True)["rfm_cell"] == "000"
    assert out.row(1, named=True)["r_score"] == 1  # the only buyer: nobody is strictly worse


def test_missing_columns_raise_with_the_fix():
    with pytest.raises(ValueError, match="contact_features"):
        compute_rfm(pl.DataFrame({"contact_id": [1]}))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 400), st.floats(0, 1e4, allow_nan=False)),
        min_size=1,
        max_size=40,
    )
)
def test_every_contact_gets_exactly_one_segment_whatever_the_data(rows):
    f = _frame(
        [r if n else None for n, r, _ in rows],
        [n for n, _, _ in rows],
        [m if n else 0.0 for n, _, m in rows],
    )
    out = compute_rfm(f)
    assert out.height == f.height
    assert out["rfm_segment"].null_count() == 0
    assert set(out["rfm_segment"]) <= {*RFM_SEGMENTS, NO_PURCHASE_SEGMENT}
    buyers = out.filter(pl.col("n_orders") > 0)
    assert (
        buyers.select(pl.col("r_score", "f_score", "m_score").is_between(1, 5).all()).row(0)
        == (True,) * 3
    )
    # deterministic ties: equal inputs, equal scores
    assert buyers.group_by("recency_days").agg(pl.col("r_score").n_unique())["r_score"].max() in (
        None,
        1,
    )
    counts = segment_counts(out)
    assert counts["contacts"].sum() == f.height


def test_segment_counts_of_a_boolean_flag_column():
    """Flags are Boolean: counted by their text value, nulls kept as their own row."""
    from smsanalytics.segments import segment_counts

    frame = pl.DataFrame({"is_flag": [True, False, True, None]})
    out = segment_counts(frame, "is_flag")
    assert dict(zip(out["is_flag"].to_list(), out["contacts"].to_list(), strict=True)) == {
        "false": 1,
        "true": 2,
        None: 1,
    }
