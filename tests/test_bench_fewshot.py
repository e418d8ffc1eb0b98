"""The few-shot benchmark: a tiny seeded run end to end, and the summaries on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.bench.__main__ import main
from labeler.bench.fewshot import DATASETS, make_task, score
from labeler.bench.report import FEW_SEEDS, headline, summarise, table


def test_tasks_are_seeded_and_stratified() -> None:
    a, b = make_task("synthetic", 3, 0), make_task("synthetic", 3, 0)
    np.testing.assert_array_equal(a.support, b.support)
    y = a.pool[1]
    assert np.bincount(y[a.support]).tolist() == [3] * 10
    assert len(a.queries) == len(y) - 30 and not np.isin(a.queries, a.support).any()
    five = make_task("synthetic", 2, 1, ways=5)
    assert sorted(set(five.pool[1])) == [0, 1, 2, 3, 4]


def test_score_on_a_planted_prediction() -> None:
    task = make_task("synthetic", 1, 0)
    y = task.pool[1]
    proba = np.full((len(y), 10), 0.0)
    proba[np.arange(len(y)), y] = 0.95  # always right, 95% sure
    proba[np.arange(len(y)), (y + 1) % 10] = 0.05
    figures = score(proba, task, 0.5)
    assert figures["accuracy"] == 1.0 and figures["coverage"] == 1.0
    assert figures["ece"] == pytest.approx(0.05)
    assert figures["seconds"] == 0.5


def test_a_tiny_run_prints_the_table_and_writes_csv_and_plot(tmp_path, capsys) -> None:
    code = main(
        [
            "--datasets", "synthetic",
            "--shots", "1", "2",
            "--seeds", "2",
            "--methods", "auto", "protonet",
            "--peers", "easyfsl:SimpleShot", "sklearn:LogisticRegression",
            "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "synthetic, 1-shot (2 seeds)" in out and "easyfsl:SimpleShot" in out
    assert (tmp_path / "fewshot.csv").is_file() and (tmp_path / "fewshot-accuracy.png").is_file()


def _record(dataset, shots, method, seed, accuracy):
    nan = float("nan")
    return {
        "dataset": dataset, "shots": shots, "method": method, "seed": seed,
        "accuracy": accuracy, "ece": 0.1, "ece_floor": 0.02, "precision": nan, "coverage": 0.0,
        "target_precision": nan, "target_coverage": 0.0, "estimated_coverage": 0.0,
        "seconds": 1.0,
    }  # fmt: skip


def test_headline_compares_with_the_best_peer_per_setting() -> None:
    records = []
    for seed, noise in enumerate((-0.01, 0.01)):
        for shots, ours, peer_a, peer_b in ((1, 0.60, 0.55, 0.58), (5, 0.70, 0.71, 0.65)):
            records += [
                _record("fmnist-balanced", shots, "auto", seed, ours + noise),
                _record("fmnist-balanced", shots, "easyfsl:TIM", seed, peer_a),
                _record("fmnist-balanced", shots, "sklearn:LabelSpreading", seed, peer_b),
            ]
    summary = summarise(records)
    assert summary[("fmnist-balanced", 1, "auto")]["accuracy"] == pytest.approx(0.60)
    assert summary[("fmnist-balanced", 1, "auto")]["ci95"] > 0
    assert np.isnan(summary[("fmnist-balanced", 1, "auto")]["precision"])
    text, gaps = headline(summary)
    assert gaps == pytest.approx([2.0, -1.0])
    assert "sklearn:LabelSpreading" in text.splitlines()[0]
    assert "easyfsl:TIM" in text.splitlines()[1]


def test_the_table_says_once_when_few_seeds_make_the_interval_wide() -> None:
    two = [_record("fmnist-balanced", 1, "auto", seed, acc) for seed, acc in enumerate((0.2, 0.9))]
    one = [_record("fmnist-longtail", 5, "auto", 0, 0.7)]
    text = table(summarise(two))
    assert "55.00 ± 444.72" in text  # t with 1 degree of freedom: right, and beyond 0-100
    assert text.endswith(
        f"\n\n± is a 95% t-interval over the seeds, wide from fewer than {FEW_SEEDS} (here as "
        f"few as 2): run --seeds {FEW_SEEDS} or more for figures to compare"
    )
    text = table(summarise(two + one))
    assert text.count("± is a 95% t-interval") == 1
    assert "70.00 ±     - " in text  # one seed: no interval, not a zero one
    assert "(here as few as 1); from 1 seed there is none (-): run --seeds" in text
    many = [_record("fmnist-balanced", 1, "auto", seed, 0.5) for seed in range(FEW_SEEDS)]
    assert "t-interval" not in table(summarise(many))


def test_active_flag_reaches_the_active_benchmark(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--active", "--rounds"])
    assert e.value.code != 0
    err = capsys.readouterr().err
    assert "usage: labeler bench --active" in err and "--rounds: expected one argument" in err


def test_demo_ood_counts_every_unlabeled_demo_image_once(capsys) -> None:
    """On the real demo images and the offline backbone: two classes, 3 labels each."""
    from labeler.bench import demo_ood

    other, others, kept, knowns = demo_ood.marked(["trouser", "bag"], 3)
    assert (others, knowns) == (160, 34)  # 8 other classes x 20; 2 x 20 minus the 6 labeled
    assert 0 <= other <= others and 0 <= kept <= knowns
    with pytest.raises(SystemExit, match="no demo class"):
        demo_ood.marked(["unicorn"], 3)
    assert demo_ood.main(["--labeled", "bag", "coat", "--per-class", "2"]) == 0
    assert "images of the other classes" in capsys.readouterr().out


def test_settings_a_class_is_too_small_for_are_left_out_with_a_note(tmp_path, capsys) -> None:
    smallest = int(np.bincount(DATASETS["digits-longtail"](0)[1]).min())
    code = main(
        [
            "--datasets", "digits-longtail",
            "--shots", "1", str(smallest + 1),
            "--seeds", "1", "--methods", "protonet", "--peers", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert f"{smallest + 1}-shot: left out, its smallest class has {smallest} images" in (
        captured.err
    )
    assert "digits-longtail, 1-shot (1 seed)" in captured.out
    assert f"{smallest + 1}-shot (" not in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--shots", "500"], "no setting left to run"),
        (["--methods", "protonet", "nope"], "unknown method 'nope' in --methods; available:"),
    ],
)
def test_a_run_with_nothing_to_do_or_an_unknown_method_is_refused_before_it_starts(
    tmp_path, capsys, argv, message
) -> None:
    code = main(["--datasets", "synthetic", "--peers", "--out", str(tmp_path / "out"), *argv])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_shots_and_seeds_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--shots", "0"])
    assert "--shots: expected a number of at least 1, got 0" in capsys.readouterr().err
