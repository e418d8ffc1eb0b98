"""Tests for labeler.heads: the head contract, ProtoNet against loop oracles, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.calibrate import fit_temperature
from labeler.errors import LabelerError
from labeler.heads import ProtoNet, available_heads, create_head

NAMES = ["b cat", "Äpfel", "日本語 ラベル", "a", " spaced out ", "x-ray/CT", "z"]


def _clusters(
    seed: int, n_classes: int, per_class: int, *, dim: int = 16, sep: float = 3.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planted Gaussian clusters: class means (C, D) at scale `sep`, unit noise.

    Returns means, X (C*per_class, D) float32 and the true class index per row.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * sep
    y = np.repeat(np.arange(n_classes), per_class)
    X = (means[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    return means, X, y


def _draw(means: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(means), n)
    return (means[y] + rng.normal(size=(n, means.shape[1]))).astype(np.float32), y


# ----- the contract, for every registered head ---------------------------------------------------


def test_registry() -> None:
    assert "protonet" in available_heads()
    assert isinstance(create_head("protonet"), ProtoNet)
    assert create_head("protonet", temperature=0.5).base_temperature == 0.5
    with pytest.raises(LabelerError, match="unknown method"):
        create_head("no-such-head")


@pytest.mark.parametrize("n_classes", range(2, 8))
@pytest.mark.parametrize("name", available_heads())
def test_head_contract(name: str, n_classes: int) -> None:
    names = np.array(NAMES[:n_classes], dtype=object)
    means, X, y = _clusters(n_classes, n_classes, per_class=6)
    X_test, y_test = _draw(means, 40 * n_classes, seed=100 + n_classes)
    head = create_head(name)
    assert head.fit(X, list(names[y]), X_pool=X_test) is head

    assert list(head.classes_) == sorted(NAMES[:n_classes])
    proba = head.predict_proba(X_test)
    assert proba.shape == (len(X_test), n_classes)
    assert proba.dtype == np.float32
    assert np.isfinite(proba).all() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    predicted = head.classes_[proba.argmax(axis=1)]
    accuracy = float((predicted == names[y_test]).mean())
    assert accuracy >= 0.9, (
        f"accuracy {accuracy:.2f} on well-separated clusters (chance {1 / n_classes:.2f})"
    )
    assert head.temperature_ > 0

    # Prediction is per row: one row alone gives the same probabilities as in a batch.
    np.testing.assert_allclose(head.predict_proba(X_test[3:4]), proba[3:4], atol=1e-6)


@pytest.mark.parametrize("name", available_heads())
def test_describe_starts_with_the_registry_key(name: str) -> None:
    # What the user asked for (`--method protonet-euclidean`) is what provenance says, even where
    # one class serves several keys (ProtoNet's own name is "protonet").
    _, X, y = _clusters(5, 3, per_class=4, dim=8)
    head = create_head(name)
    assert head.name == name
    assert head.fit(X, [NAMES[i] for i in y]).describe().startswith(name)


@pytest.mark.parametrize("name", available_heads())
@pytest.mark.parametrize("with_pool", [True, False], ids=["pool", "no-pool"])
def test_one_example_per_class_is_enough(name: str, with_pool: bool) -> None:
    means, X, y = _clusters(7, 4, per_class=1)
    X_test, y_test = _draw(means, 200, seed=8)
    head = create_head(name).fit(X, [NAMES[i] for i in y], X_pool=X_test if with_pool else None)
    proba = head.predict_proba(X_test)
    assert proba.shape == (200, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    predicted = head.classes_[proba.argmax(axis=1)]
    assert (predicted == np.array(NAMES, dtype=object)[y_test]).mean() >= 0.8


@pytest.mark.parametrize("name", available_heads())
def test_head_rejects_bad_input(name: str) -> None:
    _, X, y = _clusters(3, 3, per_class=4, dim=8)
    labels = [str(i) for i in y]
    with pytest.raises(LabelerError, match="not fitted"):
        create_head(name).predict_proba(X)
    with pytest.raises(LabelerError, match="rows"):
        create_head(name).fit(X, labels[:-1])
    with pytest.raises(LabelerError, match="no labeled"):
        create_head(name).fit(np.empty((0, 8), dtype=np.float32), [])
    with pytest.raises(LabelerError, match="2-D"):
        create_head(name).fit(X[0], labels[:1])
    bad = X.copy()
    bad[2, 5] = np.nan
    with pytest.raises(LabelerError, match="NaN"):
        create_head(name).fit(bad, labels)
    inf = X.copy()
    inf[0, 0] = np.inf
    with pytest.raises(LabelerError, match="NaN or infinite"):
        create_head(name).fit(inf, labels)
    with pytest.raises(LabelerError, match="X_pool"):
        create_head(name).fit(X, labels, X_pool=np.ones((5, 9), dtype=np.float32))
    with pytest.raises(LabelerError, match="NaN"):
        create_head(name).fit(X, labels, X_pool=bad)

    head = create_head(name).fit(X, labels)
    with pytest.raises(LabelerError, match="columns"):
        head.predict_proba(np.ones((2, 9), dtype=np.float32))
    with pytest.raises(LabelerError, match="NaN"):
        head.predict_proba(bad)
    assert head.predict_proba(np.empty((0, 8), dtype=np.float32)).shape == (0, 3)


# ----- ProtoNet against explicit loops -----------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _oracle_prototypes(X, labels, centre) -> tuple[list[str], list[np.ndarray]]:
    classes = sorted(set(labels))
    prototypes = []
    for c in classes:
        members = [_unit(x - centre) for x, lab in zip(X, labels, strict=True) if lab == c]
        prototypes.append(_unit(sum(members) / len(members)))
    return classes, prototypes


def _oracle_softmax(logits: list[float]) -> np.ndarray:
    top = max(logits)
    e = [np.exp(v - top) for v in logits]
    return np.array([v / sum(e) for v in e])


def test_protonet_matches_a_loop_oracle() -> None:
    means, X, y = _clusters(11, 3, per_class=5, dim=6, sep=1.0)
    labels = [["dog", "cat", "bird"][i] for i in y]
    pool, _ = _draw(means + 4.0, 30, seed=12)  # pool mean far from the labeled mean
    queries, _ = _draw(means, 10, seed=13)
    head = ProtoNet(temperature=0.2, power=None).fit(X, labels, X_pool=pool)

    X64, pool64, q64 = (a.astype(np.float64) for a in (X, pool, queries))
    centre = sum(pool64) / len(pool64)
    np.testing.assert_allclose(head.center_, centre, atol=1e-5)
    classes, prototypes = _oracle_prototypes(X64, labels, centre)
    assert list(head.classes_) == classes == ["bird", "cat", "dog"]
    np.testing.assert_allclose(head.prototypes_, np.array(prototypes), atol=1e-5)

    expected = []
    for q in q64:
        z = _unit(q - centre)
        logits = [float(z @ p) / 0.2 / head.temperature_ for p in prototypes]
        expected.append(_oracle_softmax(logits))
    np.testing.assert_allclose(head.predict_proba(queries), np.array(expected), atol=1e-5)


def test_protonet_centres_on_the_labeled_set_without_a_pool() -> None:
    _, X, y = _clusters(14, 2, per_class=4, dim=5, sep=1.0)
    for pool in (None, np.empty((0, 5), dtype=np.float32)):
        head = ProtoNet().fit(X, [str(i) for i in y], X_pool=pool)
        np.testing.assert_allclose(head.center_, X.astype(np.float64).mean(axis=0), atol=1e-6)


def _oracle_loo(X, y, centre, base_temperature):
    """Each row against prototypes rebuilt without it; rows alone in their class are skipped."""
    n_classes = int(y.max()) + 1
    rows, truths = [], []
    for i in range(len(X)):
        if (y == y[i]).sum() < 2:
            continue
        z = _unit(X[i] - centre)
        logits = []
        for c in range(n_classes):
            members = [_unit(X[j] - centre) for j in range(len(X)) if y[j] == c and j != i]
            logits.append(float(z @ _unit(sum(members) / len(members))) / base_temperature)
        rows.append(logits)
        truths.append(y[i])
    return np.array(rows), np.array(truths)


def test_protonet_leave_one_out_logits_match_an_explicit_recomputation() -> None:
    rng = np.random.default_rng(21)
    X = rng.normal(size=(13, 5)).astype(np.float32) + np.repeat(np.eye(5)[:3] * 2, [6, 6, 1], 0)
    labels = ["a"] * 6 + ["b"] * 6 + ["c"]  # class c is a singleton: left out of the LOO set
    y = np.array([0] * 6 + [1] * 6 + [2])
    head = ProtoNet(temperature=0.3).fit(X, labels)
    rows, logits = head._loo_logits(X, y, None, None)
    truths = y[rows]
    expected, expected_truths = _oracle_loo(X.astype(np.float64), y, head.center_, 0.3)
    assert expected.shape == (12, 3)
    np.testing.assert_array_equal(truths, expected_truths)
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    # The LOO logits differ from the plain ones: a row does not score against itself.
    assert not np.allclose(logits, head._logits(X[:12]), atol=1e-3)
    assert head.temperature_ == pytest.approx(fit_temperature(expected, expected_truths), rel=1e-3)


def test_protonet_without_enough_repeated_labels_keeps_temperature_one() -> None:
    _, X, y = _clusters(22, 3, per_class=1, dim=4)
    head = ProtoNet().fit(X, ["a", "b", "c"])
    assert head._loo_logits(X, y, None, None) is None
    assert head.temperature_ == 1.0
    # One class only: nothing to calibrate against, and probability 1 for it.
    single = ProtoNet().fit(X, ["a", "a", "a"])
    assert single.temperature_ == 1.0
    np.testing.assert_allclose(single.predict_proba(X), 1.0)


# ----- calibration -------------------------------------------------------------------------------


def _overlapping_problem(seed: int = 0):
    """3 overlapping Gaussian classes in 16-D: about 80% accuracy, so confidence is informative."""
    means, X, y = _clusters(seed, 3, per_class=60, sep=0.5)
    X_test, y_test = _draw(means, 3000, seed=seed + 1000)
    return X, [str(i) for i in y], X_test, y_test


def _calibration_gap(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean confidence − accuracy, expected calibration error over 10 equal-width bins)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    ece = 0.0
    for lo in np.linspace(0.0, 1.0, 10, endpoint=False):
        in_bin = (confidence > lo) & (confidence <= lo + 0.1)
        if in_bin.any():
            ece += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(confidence.mean() - correct.mean()), float(ece)


@pytest.mark.parametrize(
    "base_temperature", [1.0, 0.02], ids=["underconfident-base", "overconfident-base"]
)
def test_protonet_is_calibrated_whatever_its_base_temperature(base_temperature: float) -> None:
    X, labels, X_test, y_test = _overlapping_problem()
    head = ProtoNet(temperature=base_temperature).fit(X, labels, X_pool=X_test)
    proba = head.predict_proba(X_test)
    accuracy = float((proba.argmax(axis=1) == y_test).mean())
    assert 0.65 < accuracy < 0.95  # the problem is hard enough for calibration to matter
    gap, ece = _calibration_gap(proba, y_test)
    assert abs(gap) < 0.05, f"mean confidence {gap:+.3f} from accuracy {accuracy:.3f}"
    assert ece < 0.05

    # The same head without calibration (temperature 1) is badly off at this base temperature.
    head.temperature_ = 1.0
    raw_gap, raw_ece = _calibration_gap(head.predict_proba(X_test), y_test)
    assert abs(raw_gap) > 0.1 and raw_ece > 0.1
    assert np.sign(raw_gap) == (-1 if base_temperature == 1.0 else 1)

    # Calibration undoes the base temperature: both give the same probabilities.
    reference = ProtoNet(temperature=0.1).fit(X, labels, X_pool=X_test).predict_proba(X_test)
    np.testing.assert_allclose(proba, reference, atol=1e-3)
