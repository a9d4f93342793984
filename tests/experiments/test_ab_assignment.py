"""Deterministic hash assignment and the global holdout."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from smsanalytics.experiments import GLOBAL_HOLDOUT_VARIANT, assign_arms, global_holdout, hash_unit
from smsanalytics.experiments.design import _hash_unit_py

# Pinned outputs of hash_unit. They must never change: a change would silently move contacts
# between arms of running experiments and dissolve the global holdout. Values computed by the
# pure-Python reference ``_hash_unit_py`` (integer arithmetic mod 2**64, BLAKE2b salt keys).
GOLDEN = {
    ("campaign-2024-11-bf", 0): 0.264814748468592,
    ("campaign-2024-11-bf", 1): 0.9065819476801258,
    ("campaign-2024-11-bf", 42): 0.10217664647135771,
    ("campaign-2024-11-bf", 123456789): 0.7774020321110621,
    ("campaign-2024-11-bf", -7): 0.1778796837340184,
    ("campaign-2024-11-bf", 2**63 - 1): 0.29014143526150293,
    ("smsanalytics:global-holdout:v1", 1): 0.6840974485260248,
    ("smsanalytics:global-holdout:v1", 2): 0.712375515496082,
    ("smsanalytics:global-holdout:v1", 3): 0.7543638240138681,
}


def test_hash_unit_golden_values_are_stable() -> None:
    for (salt, cid), expected in GOLDEN.items():
        assert hash_unit([cid], salt)[0] == expected
        assert _hash_unit_py(salt, cid) == expected


@settings(max_examples=50, deadline=None)
@given(
    ids=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50),
    salt=st.text(min_size=1, max_size=20),
)
def test_vectorised_hash_equals_pure_python_reference(ids: list[int], salt: str) -> None:
    got = hash_unit(np.asarray(ids, dtype=np.int64), salt)
    assert got.tolist() == [_hash_unit_py(salt, i) for i in ids]
    assert np.all((got >= 0) & (got < 1))


def test_split_of_one_million_ids_is_within_sampling_error_of_target() -> None:
    ids = np.arange(1, 1_000_001, dtype=np.int64)
    weights = {"control": 0.5, "A": 0.3, "B": 0.2}
    start = time.perf_counter()
    df = assign_arms(ids, salt="exp-1m", weights=weights)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"assigning 1M ids took {elapsed:.2f}s"
    counts = df.group_by("variant").len().sort("variant")
    observed = dict(zip(counts["variant"].to_list(), counts["len"].to_list(), strict=True))
    n = ids.size
    for arm, w in weights.items():
        se = np.sqrt(w * (1 - w) / n)
        assert abs(observed[arm] / n - w) < 4 * se, (arm, observed[arm])
    chi = stats.chisquare([observed[a] for a in weights], f_exp=[n * w for w in weights.values()])
    assert chi.pvalue > 0.001
    assert df["is_holdout"].sum() == observed["control"]


def test_assignment_is_stable_when_the_audience_grows_and_order_free() -> None:
    rng = np.random.default_rng(7)
    ids = rng.choice(10**9, size=20_000, replace=False).astype(np.int64)
    weights = {"A": 1, "B": 1, "C": 2}
    full = assign_arms(ids, salt="grow", weights=weights)
    first = assign_arms(ids[:5_000], salt="grow", weights=weights)
    assert full["variant"][:5_000].to_list() == first["variant"].to_list()
    perm = rng.permutation(ids.size)
    shuffled = assign_arms(ids[perm], salt="grow", weights=weights)
    assert shuffled["variant"].to_list() == [full["variant"][int(i)] for i in perm]
    # polars Series input gives the same result
    from_series = assign_arms(pl.Series(ids), salt="grow", weights=weights)
    assert from_series["variant"].to_list() == full["variant"].to_list()


def test_different_salts_give_independent_splits() -> None:
    ids = np.arange(200_000, dtype=np.int64)
    a = assign_arms(ids, salt="exp-a", weights=["x", "y"])["variant"]
    b = assign_arms(ids, salt="exp-b", weights=["x", "y", "z"])["variant"]
    table = (
        pl.DataFrame({"a": a, "b": b})
        .group_by("a", "b")
        .len()
        .pivot(on="b", index="a", values="len")
        .sort("a")
    )
    counts = table.select("x", "y", "z").to_numpy()
    assert stats.chi2_contingency(counts).pvalue > 0.001


def test_global_holdout_persists_across_campaigns_and_grows_monotonically() -> None:
    ids = np.arange(1, 300_001, dtype=np.int64)
    camp1 = assign_arms(ids, salt="camp-1", weights=["A", "B"], global_holdout_share=0.05)
    camp2 = assign_arms(
        ids, salt="camp-2", weights={"control": 0.2, "A": 0.8}, global_holdout_share=0.05
    )
    h1 = camp1["is_global_holdout"].to_numpy()
    assert np.array_equal(h1, camp2["is_global_holdout"].to_numpy())
    assert np.array_equal(h1, global_holdout(ids, share=0.05))
    share = h1.mean()
    assert abs(share - 0.05) < 4 * np.sqrt(0.05 * 0.95 / ids.size)
    assert set(camp1.filter(pl.col("is_global_holdout"))["variant"].unique()) == {
        GLOBAL_HOLDOUT_VARIANT
    }
    assert camp1.filter(pl.col("is_global_holdout"))["is_holdout"].all()
    # raising the share keeps every current member
    bigger = global_holdout(ids, share=0.08)
    assert np.all(bigger[h1])
    # arms among the non-holdout contacts keep their split (holdout independent of the arms)
    rest = camp2.filter(~pl.col("is_global_holdout"))
    control_share = (rest["variant"] == "control").mean()
    assert abs(control_share - 0.2) < 4 * np.sqrt(0.2 * 0.8 / rest.height)


def test_assignment_input_errors() -> None:
    with pytest.raises(TypeError, match="integers"):
        assign_arms(np.array([1.5, 2.0]), salt="s", weights=["A", "B"])
    with pytest.raises(ValueError, match="non-empty string"):
        hash_unit([1], "")
    with pytest.raises(ValueError, match=r"share must lie in \[0, 1\)"):
        global_holdout([1], share=1.0)
    with pytest.raises(ValueError, match="> 0"):
        assign_arms([1], salt="s", weights={"A": 1, "B": 0})
