"""The active-learning benchmark's command line: each option explained, examples, checks."""

from __future__ import annotations

import pytest

from labeler.bench.__main__ import main
from labeler.bench.active import build_parser


def test_every_option_has_a_help_text_and_the_help_ends_with_examples(capsys) -> None:
    options = [a for a in build_parser()._actions if a.option_strings]
    assert len(options) >= 11
    assert [a.option_strings for a in options if not a.help] == []
    with pytest.raises(SystemExit) as e:
        main(["--active", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "\nexamples:\n  labeler bench --active --seeds 10 " in out
    assert "--rounds ROUNDS       batches labeled in each session (default 5)" in out


def test_counts_below_one_are_refused_before_anything_runs(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--active", "--rounds", "0"])
    assert e.value.code == 2
    assert "--rounds: expected a number of at least 1, got 0" in capsys.readouterr().err
