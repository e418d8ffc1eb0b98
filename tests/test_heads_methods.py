"""Tests for the non-transductive heads against loop oracles, held-out logits, and `auto`."""

from __future__ import annotations

import re

import numpy as np
import pytest

from labeler.calibrate import softmax
from labeler.errors import LabelerError
from labeler.evaluate import CHECK_DESC, out_of_fold_proba
from labeler.heads import Auto, ProtoNet, create_head
from labeler.heads.adapter import ADAPTER_STEPS
from labeler.heads.neighbours import VOTE_FLOOR


def _problem(seed: int, n_classes: int = 3, per_class: int = 6, dim: int = 5, sep: float = 2.0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * sep
    y = np.repeat(np.arange(n_classes), per_class)
    X = (means[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    queries = (means[rng.integers(0, n_classes, 25)] + rng.normal(size=(25, dim))).astype(
        np.float32
    )
    return X, y, queries


def test_euclidean_protonet_matches_a_loop_oracle() -> None:
    X, y, Q = _problem(0)
    pool = np.concatenate([X, Q])
    head = ProtoNet(metric="euclidean", temperature=1.0).fit(X, list(y), X_pool=pool)
    centre = pool.astype(np.float64).mean(0)  # Gaussian data: no power transform
    scale = np.sqrt(np.mean((pool - centre) ** 2) * X.shape[1])
    means = [((X[y == c] - centre) / scale).mean(0) for c in range(3)]
    for q, p in zip(Q, head.predict_proba(Q), strict=True):
        z = (q - centre) / scale
        logits = [-float(((z - m) ** 2).sum()) / head.temperature_ for m in means]
        np.testing.assert_allclose(p, softmax(np.array([logits]))[0], atol=1e-4)


def test_euclidean_leave_one_out_rebuilds_the_own_mean() -> None:
    X, y, _ = _problem(1)
    head = ProtoNet(metric="euclidean", temperature=1.0).fit(X, list(y))
    rows, logits = head._loo_logits(X, y, None, None)
    Z = head._embed(X)
    for i in rows:
        own = Z[(y == y[i]) & (np.arange(len(y)) != i)].mean(0)
        assert logits[i, y[i]] == pytest.approx(-((Z[i] - own) ** 2).sum(), rel=1e-4)


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(LabelerError, match="unknown metric 'manhattan'"):
        ProtoNet(metric="manhattan")


@pytest.mark.parametrize("neighbours", [None, 3])
def test_matching_networks_match_a_loop_oracle(neighbours: int | None) -> None:
    X, y, Q = _problem(2)
    name = "matching" if neighbours is None else "knn"
    head = create_head(name, neighbours=neighbours, temperature=0.5).fit(X, list(y))
    Z, Zq = head.features_.transform(X), head.features_.transform(Q)
    for zq, logit in zip(Zq, head._logits(Q), strict=True):
        sims = Z @ zq / 0.5
        if neighbours is not None:
            sims = np.where(sims >= np.sort(sims)[-neighbours], sims, -np.inf)
        attention = np.exp(sims - sims.max())
        attention /= attention.sum()
        votes = [attention[y == c].sum() for c in range(3)]
        np.testing.assert_allclose(logit, np.log(np.array(votes) + VOTE_FLOOR), atol=1e-5)


@pytest.mark.parametrize("name", ["logreg", "svm", "matching", "knn", "bdcspn"])
def test_refitted_held_out_logits_never_see_the_row(name: str) -> None:
    X, y, _ = _problem(3, per_class=8, sep=4.0)
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    labels[0] = "c"  # a point of cluster a, labeled c
    head = create_head(name).fit(X, list(labels), X_pool=X)
    rows, logits = head.oof_
    assert len(rows) == len(X)
    assert head.classes_[logits[list(rows).index(0)].argmax()] == "a"


def test_singleton_classes_are_left_out_of_the_held_out_rows() -> None:
    X, y, _ = _problem(4, per_class=4)
    labels = [*y[:8], 7]  # classes 0 and 1 four times each, class 7 once
    head = create_head("logreg").fit(X[:9], labels)
    rows, logits = head.oof_
    np.testing.assert_array_equal(rows, np.arange(8))  # the singleton's row is left out
    assert np.isfinite(logits).all()


def test_auto_blends_by_held_out_likelihood_and_says_so() -> None:
    X, y, Q = _problem(5, per_class=6)
    head = Auto().fit(X, list(y), X_pool=np.concatenate([X, Q]))
    assert head.weights_.sum() == pytest.approx(1.0)
    assert set(np.round(head.weights_ * 4, 6)) <= {0, 1, 2, 3, 4}
    said = head.describe()
    assert "out-of-fold accuracy" in said
    # It says the measure it chose by, and the blend chosen is at least as good by that measure
    # as either candidate alone (both are points of the grid searched).
    losses = dict(re.findall(r"(labelprop|logreg|blend) (\d\.\d\d)", said.split(";")[0]))
    assert set(losses) == {"labelprop", "logreg", "blend"}, said
    assert float(losses["blend"]) <= min(float(losses["labelprop"]), float(losses["logreg"]))
    rows, logits = head.oof_
    assert logits.shape == (len(rows), 3)
    proba = head.predict_pool_proba()
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)


def test_auto_uses_its_prior_with_one_label_per_class() -> None:
    X, y, Q = _problem(6, per_class=1)
    head = Auto().fit(X, list(y), X_pool=Q)
    np.testing.assert_array_equal(head.weights_, [1.0, 0.0])
    assert "prior choice" in head.describe()
    with pytest.raises(LabelerError, match="one prior weight per candidate"):
        Auto(candidates=("labelprop",), prior=(0.5, 0.5))


def test_auto_prefers_the_candidate_that_predicts_held_out_labels() -> None:
    """Labels that follow a linear rule across overlapping clusters: the linear probe wins."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)  # one linear direction; no cluster structure to propagate
    rows = rng.choice(400, 40, replace=False)
    head = Auto().fit(X[rows], list(y[rows]), X_pool=X)
    assert head.weights_[1] >= 0.5, head.describe()


@pytest.mark.parametrize("n_classes", [2, 4])
def test_reduced_logistic_regression_is_scikit_learns(n_classes: int) -> None:
    """Fitted in the span of the rows, the optimum is the full-dimensional one."""
    from sklearn.linear_model import LogisticRegression

    from labeler.heads.linear import _ReducedLogistic

    rng = np.random.default_rng(n_classes)
    Z = rng.normal(size=(24, 60)).astype(np.float32)  # fewer rows than dimensions
    y = np.arange(24) % n_classes
    ours = _ReducedLogistic(C=10.0, tol=1e-10).fit(Z, y)
    # The oracle in float64: scikit-learn >= 1.9 fits float32 input in float32 and stops early.
    ref = LogisticRegression(C=10.0, max_iter=5000, tol=1e-10).fit(Z.astype(np.float64), y)
    Q = rng.normal(size=(7, 60)).astype(np.float32)
    expected = ref.predict_proba(Q.astype(np.float64))
    np.testing.assert_allclose(softmax(ours.decision_function(Q)), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["adapter", "relation"])
def test_trained_heads_show_their_steps_on_stderr_and_train_alike(name: str, capsys) -> None:
    X, y, Q = _problem(2)
    quiet = create_head(name, progress=False).fit(X, list(y), X_pool=Q)
    assert capsys.readouterr() == ("", "")
    shown = create_head(name).fit(X, list(y), X_pool=Q)
    out, err = capsys.readouterr()
    assert out == "" and f"{name}: " in err and f"/{ADAPTER_STEPS} " in err
    # One bar, the fit's; its held-out folds train quietly; it leaves no line behind.
    assert len(re.findall(rf"{name}:\s+0%", err)) == 1, err
    assert "\n" not in err
    np.testing.assert_array_equal(shown.predict_proba(Q), quiet.predict_proba(Q))
    assert shown.temperature_ == quiet.temperature_


@pytest.mark.parametrize("name", ["adapter", "relation"])
def test_trained_heads_show_no_bar_inside_the_accuracy_checks_bar(name: str, capsys) -> None:
    """`predict`'s check refits the head on each fold under its own bar: the refits' bars would
    nest below it, a line each on a terminal that cannot move the cursor up."""
    X, y, Q = _problem(2)
    out_of_fold_proba(name, X, list(y), X_pool=Q, folds=3, progress=True)
    err = capsys.readouterr().err
    assert f"{name}:" not in err and "\x1b[" not in err, err  # no bar nested, no cursor moves
    assert err.count("\n") == 1 and err.rstrip("\n").split("\r")[-1].startswith(
        f"{CHECK_DESC}: 100%|"
    ), err  # one finished line: the check's
    create_head(name).fit(X, list(y), X_pool=Q)  # alone again: its own bar
    assert f"{name}:" in capsys.readouterr().err
