"""Point-in-time correctness: nothing at or after ``as_of`` changes the features."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import AS_OF, load_frames, t, truncate_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from smsanalytics.features import contact_features
from smsanalytics.warehouse import Warehouse


def _features(frames, as_of):
    with Warehouse(":memory:") as wh:
        return contact_features(load_frames(wh, frames), as_of=as_of)


@pytest.mark.parametrize(
    "as_of",
    [AS_OF, t(2025, 3, 30, 1, 0), t(2025, 5, 10, 9, 0), t(2025, 5, 28, 18, 0, 1), t(2024, 1, 1)],
)
def test_features_equal_those_of_the_programme_cut_at_as_of(programme, as_of):
    """The hand-made programme has orders, messages, receipts, clicks, replies, signups and
    opt-outs after ``AS_OF``; removing everything at or after ``as_of`` changes nothing."""
    assert_frame_equal(
        _features(programme, as_of), _features(truncate_frames(programme, as_of), as_of)
    )


_late = st.datetimes(
    min_value=dt.datetime(2025, 6, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(dt.UTC)
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orders=st.lists(st.tuples(st.integers(1, 9), _late, st.floats(0, 500)), max_size=5),
    sends=st.lists(st.tuples(st.integers(1, 9), _late, st.booleans(), st.booleans()), max_size=5),
    replies=st.lists(
        st.tuples(st.integers(1, 9), _late, st.sampled_from(["STOP", "START", None])), max_size=3
    ),
)
def test_adding_events_after_as_of_changes_nothing(programme, orders, sends, replies):
    before = _features(programme, AS_OF)
    extra = dict(programme)
    extra["orders"] = pl.concat(
        [
            programme["orders"],
            pl.DataFrame(
                [(f"late{i}", c, at, amount) for i, (c, at, amount) in enumerate(orders)],
                schema=programme["orders"].schema,
                orient="row",
            ),
        ]
    )
    msgs = [(1000 + i, c, at, 0.05) for i, (c, at, _, _) in enumerate(sends)]
    extra["messages"] = pl.concat(
        [
            programme["messages"],
            pl.DataFrame(msgs, schema=programme["messages"].schema, orient="row"),
        ]
    )
    extra["receipts"] = pl.concat(
        [
            programme["receipts"],
            pl.DataFrame(
                [(m, at + dt.timedelta(seconds=5), "delivered") for m, _, at, _ in msgs],
                schema=programme["receipts"].schema,
                orient="row",
            ),
        ]
    )
    extra["clicks"] = pl.concat(
        [
            programme["clicks"],
            pl.DataFrame(
                [
                    (m, c, at + dt.timedelta(minutes=3), bot)
                    for (m, c, at, _), (_, _, clicked, bot) in zip(msgs, sends, strict=True)
                    if clicked
                ],
                schema=programme["clicks"].schema,
                orient="row",
            ),
        ]
    )
    extra["inbound"] = pl.concat(
        [
            programme["inbound"],
            pl.DataFrame(replies, schema=programme["inbound"].schema, orient="row").unique(
                ["contact_id", "received_at"]
            ),
        ]
    )
    assert_frame_equal(_features(extra, AS_OF), before)
