"""Audience: declarative filters compiled to SQL, sizes, overlaps, contact ids only."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import AS_OF, load_frames, programme_frames
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.segments import Audience, AudienceError, segment_contacts
from smsanalytics.warehouse import Warehouse


@pytest.fixture
def base(wh):
    return segment_contacts(wh, as_of=AS_OF)


def test_leaves_select_what_they_say(base):
    assert Audience.stage("welcome").contact_ids(base).to_list() == [2, 9]
    assert Audience.country("fr").contact_ids(base).to_list() == [1, 3, 6, 7]
    assert Audience.consented().contact_ids(base).to_list() == [1, 2, 5, 8]
    assert Audience.contacted_within(7).contact_ids(base).to_list() == [2]
    assert Audience.not_contacted_within(30).contact_ids(base).to_list() == [3, 5, 6, 7, 8, 9]
    assert Audience.flag("is_birthday_soon").contact_ids(base).to_list() == [1]
    assert Audience.score("click_rate", at_least=0.5).contact_ids(base).to_list() == [2, 6, 8]
    assert Audience.where("timezone", "is null").contact_ids(base).to_list() == [6, 9]
    assert Audience.everyone().size(base) == base.height


def test_composition_size_and_overlap(base):
    reachable = Audience.consented() & ~Audience.stage("opted_out")
    buyers = Audience.where("n_orders", ">=", 1)
    a = reachable & buyers
    assert a.contact_ids(base).to_list() == [1, 5]
    assert (reachable | buyers).size(base) == 6  # {1, 2, 5, 8} | {1, 3, 5, 6}
    o = reachable.overlap(buyers, base)
    assert (o.size_a, o.size_b, o.both, o.only_a, o.only_b) == (4, 4, 2, 2, 2)
    assert o.union == 6 and o.jaccard == pytest.approx(2 / 6)


def test_returns_contact_ids_only_and_refuses_phone_numbers(base):
    with_phone = base.with_columns(pl.lit("+33600000000").alias("phone_e164"))
    ids = Audience.everyone().contact_ids(with_phone)
    assert ids.name == "contact_id" and ids.dtype == pl.Int64
    with pytest.raises(AudienceError, match="phone"):
        Audience.where("phone_e164", "=", "+33600000000")


def test_compiles_to_parameterised_sql():
    a = Audience.segment("Champions", "Loyal") & Audience.country("FR") & ~Audience.consented()
    sql, params = a.to_sql("contact_segments")
    assert sql.startswith("SELECT contact_id FROM contact_segments WHERE ")
    assert "Champions" not in sql and "'FR'" not in sql  # values are parameters
    assert params == {"p0": "Champions", "p1": "Loyal", "p2": "FR", "p3": True}
    assert "rfm_segment in ['Champions', 'Loyal']" in a.describe()


def test_bad_filters_name_the_fix(base):
    with pytest.raises(AudienceError, match="unknown RFM segment"):
        Audience.segment("Champs")
    with pytest.raises(AudienceError, match="unknown lifecycle stage"):
        Audience.stage("sleeping")
    with pytest.raises(AudienceError, match="snake_case"):
        Audience.where("x; DROP TABLE contacts", "=", 1)
    with pytest.raises(AudienceError, match="no column"):
        Audience.score("p_alive", at_least=0.5).size(base)
    with pytest.raises(AudienceError, match="is null"):
        Audience.where("country", "=", None)


def test_runs_on_a_warehouse_table(wh, base):
    wh.con.register("contact_segments", base)
    a = Audience.stage("lapsed", "at_risk")
    assert a.contact_ids(wh).to_list() == a.contact_ids(base).to_list() == [5, 6, 8]


_leaf = st.one_of(
    st.builds(
        lambda s: Audience.stage(*s),
        st.sets(st.sampled_from(["welcome", "active", "lapsed", "opted_out"]), min_size=1),
    ),
    st.builds(
        lambda c: Audience.country(*c),
        st.sets(st.sampled_from(["FR", "US", "BE", "NP"]), min_size=1),
    ),
    st.builds(Audience.consented, st.booleans()),
    st.builds(lambda d: Audience.where("n_orders", ">=", d), st.integers(0, 4)),
    st.builds(lambda d: Audience.where("days_since_last_sent", "<", d), st.integers(0, 200)),
)
_audiences = st.recursive(
    _leaf,
    lambda kids: st.one_of(
        st.builds(lambda a, b: a & b, kids, kids),
        st.builds(lambda a, b: a | b, kids, kids),
        st.builds(lambda a: ~a, kids),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def module_base():
    with Warehouse(":memory:") as wh:
        return segment_contacts(load_frames(wh, programme_frames()), as_of=AS_OF)


@settings(max_examples=25, deadline=None)
@given(a=_audiences, b=_audiences)
def test_set_algebra_holds_with_missing_values(module_base, a, b):
    """Missing values never make ``a`` and ``~a`` overlap or leave a gap."""
    base = module_base
    everyone = set(base["contact_id"])
    sa, sb = set(a.contact_ids(base)), set(b.contact_ids(base))
    assert set((~a).contact_ids(base)) == everyone - sa
    assert set((a & b).contact_ids(base)) == sa & sb
    assert set((a | b).contact_ids(base)) == sa | sb
