"""Tests for labeler.index: one contract for every index, FAISS against the brute-force oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labeler.errors import LabelerError
from labeler.index import (
    BruteForceIndex,
    FaissIndex,
    available_indexes,
    create_index,
    l2_normalize,
)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_registry_lists_both_indexes() -> None:
    assert {"faiss", "brute"} <= set(available_indexes())
    assert isinstance(create_index("faiss", dim=3), FaissIndex)
    assert isinstance(create_index("brute", dim=3), BruteForceIndex)
    with pytest.raises(LabelerError, match="unknown index"):
        create_index("annoy", dim=3)
    with pytest.raises(LabelerError, match="positive"):
        create_index("faiss", dim=0)


@pytest.mark.parametrize("name", available_indexes())
def test_index_contract(name: str) -> None:
    dim = 4
    index = create_index(name, dim=dim)
    assert index.dim == dim and len(index) == 0
    # Planted: the basis vectors, scaled (any norm is accepted and normalised).
    vectors = np.eye(dim, dtype=np.float32) * np.array([[1.0], [2.0], [0.5], [3.0]])
    ids = np.array([10, 20, 30, 40], dtype=np.int64)
    index.add(ids, vectors)
    assert len(index) == 4
    assert sorted(index.ids().tolist()) == [10, 20, 30, 40]
    assert index.ids().dtype == np.int64

    # A query between e0 and e1, a bit nearer e1: cosines 0.6 and 0.8, then 0 and 0.
    query = np.array([[0.6, 0.8, 0.0, 0.0]], dtype=np.float32) * 5.0
    sims, found = index.search(query, 2)
    assert sims.shape == found.shape == (1, 2)
    assert sims.dtype == np.float32 and found.dtype == np.int64
    assert found.tolist() == [[20, 10]]
    np.testing.assert_allclose(sims, [[0.8, 0.6]], atol=1e-6)

    # A 1-D query is one query.
    _, found1 = index.search(query[0], 2)
    assert found1.tolist() == [[20, 10]]

    # k > N: -1 padding after the real neighbours, whose similarities are descending.
    sims, found = index.search(np.eye(dim, dtype=np.float32)[[3, 0]], 6)
    assert sims.shape == found.shape == (2, 6)
    assert found[0, 0] == 40 and found[1, 0] == 10
    np.testing.assert_allclose(sims[:, 0], [1.0, 1.0], atol=1e-6)
    assert (found[:, 4:] == -1).all()
    assert (found[:, :4] != -1).all()
    assert (np.diff(sims[:, :4], axis=1) <= 1e-6).all()
    assert (sims[:, 4:] < -1.0).all()  # padded similarities rank below any real cosine

    # Duplicate ids, with the index or within one batch, are rejected and change nothing.
    with pytest.raises(LabelerError):
        index.add(np.array([20]), np.ones((1, dim)))
    with pytest.raises(LabelerError):
        index.add(np.array([50, 50]), np.ones((2, dim)))
    assert len(index) == 4

    # Wrong dimension: adding and searching.
    with pytest.raises(LabelerError):
        index.add(np.array([60]), np.ones((1, dim + 1)))
    with pytest.raises(LabelerError):
        index.add(np.array([60, 61]), np.ones((1, dim)))  # ids and rows disagree
    with pytest.raises(LabelerError):
        index.search(np.ones((1, dim + 1)), 2)
    with pytest.raises(LabelerError):
        index.search(np.ones((1, dim)), 0)
    assert len(index) == 4

    # Remove: unknown ids are ignored; removed ids are never returned again.
    assert index.remove(np.array([20, 999])) == 1
    assert len(index) == 3
    assert sorted(index.ids().tolist()) == [10, 30, 40]
    sims, found = index.search(query, 3)
    assert found[0, 0] == 10 and 20 not in found
    assert index.remove(np.array([], dtype=np.int64)) == 0

    # A removed id can be added again, with a new vector.
    index.add(np.array([20]), np.array([[0.0, 0.0, 1.0, 0.0]]))
    _, found = index.search(np.array([[0.0, 0.0, 1.0, 0.0]]), 2)
    assert set(found[0].tolist()) == {20, 30}


@pytest.mark.parametrize("name", available_indexes())
def test_empty_index_search_pads_everything(name: str) -> None:
    index = create_index(name, dim=3)
    sims, found = index.search(np.ones((2, 3)), 3)
    assert found.shape == (2, 3) and (found == -1).all()
    assert sims.shape == (2, 3)


def test_faiss_matches_the_brute_force_oracle() -> None:
    rng = _rng(0)
    n, d, q, k = 500, 32, 20, 10
    vectors = rng.normal(size=(n, d)).astype(np.float32) * rng.uniform(0.5, 3.0, size=(n, 1))
    ids = rng.permutation(10 * n)[:n].astype(np.int64)  # arbitrary, not 0..N-1
    queries = rng.normal(size=(q, d)).astype(np.float32)
    faiss_index, brute = FaissIndex(dim=d), BruteForceIndex(dim=d)
    faiss_index.add(ids, vectors)
    brute.add(ids, vectors)

    f_sims, f_ids = faiss_index.search(queries, k)
    b_sims, b_ids = brute.search(queries, k)
    np.testing.assert_array_equal(f_ids, b_ids)
    np.testing.assert_allclose(f_sims, b_sims, atol=1e-5)

    # And both against cosine similarity written out by hand.
    cos = _unit(queries.astype(np.float64)) @ _unit(vectors.astype(np.float64)).T
    expected = ids[np.argsort(-cos, axis=1)[:, :k]]
    np.testing.assert_array_equal(b_ids, expected)
    np.testing.assert_allclose(b_sims, np.sort(cos, axis=1)[:, ::-1][:, :k], atol=1e-5)

    # Still the same after removing a third of the ids.
    gone = ids[::3]
    assert faiss_index.remove(gone) == brute.remove(gone) == len(gone)
    f_sims, f_ids = faiss_index.search(queries, k)
    b_sims, b_ids = brute.search(queries, k)
    np.testing.assert_array_equal(f_ids, b_ids)
    np.testing.assert_allclose(f_sims, b_sims, atol=1e-5)
    assert not np.isin(f_ids, gone).any()


def test_faiss_save_load_round_trip(tmp_path: Path) -> None:
    rng = _rng(1)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    ids = np.arange(100, 150, dtype=np.int64)
    index = FaissIndex(dim=8)
    index.add(ids, vectors)
    index.remove(np.array([100, 120]))
    path = tmp_path / "vectors.index"
    index.save(path)
    assert path.is_file()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it

    loaded = FaissIndex.load(path)
    assert loaded.dim == 8 and len(loaded) == 48
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    for a, b in zip(loaded.search(queries, 7), index.search(queries, 7), strict=True):
        np.testing.assert_array_equal(a, b)
    # The loaded index is a working index: add, remove, duplicate check.
    loaded.add(np.array([100]), vectors[:1])
    with pytest.raises(LabelerError):
        loaded.add(np.array([101]), vectors[:1])
    assert loaded.remove(np.array([101, 102])) == 2


@pytest.mark.parametrize(
    "content",
    [b"", b"not a faiss index at all" * 10, "truncate"],
    ids=["empty", "garbage", "truncated"],
)
def test_faiss_load_of_a_bad_file_is_a_labeler_error(tmp_path: Path, content) -> None:
    path = tmp_path / "vectors.index"
    if content == "truncate":
        good = FaissIndex(dim=16)
        good.add(np.arange(20), _rng(2).normal(size=(20, 16)))
        good.save(path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(LabelerError, match="cannot read the index file"):
        FaissIndex.load(path)


def test_faiss_load_of_a_missing_file_is_a_labeler_error(tmp_path: Path) -> None:
    with pytest.raises(LabelerError, match="cannot read the index file"):
        FaissIndex.load(tmp_path / "absent.index")


def test_l2_normalize_gives_unit_rows_and_keeps_zero_rows() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-2.0, 0.0]])
    out = l2_normalize(x)
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]], atol=1e-7)
