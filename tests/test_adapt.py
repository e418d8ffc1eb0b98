"""Batch-norm adaptation: the last layers' statistics become those of the project's images (checked
against a direct computation), nothing else moves; the project re-embeds with the saved weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from imagegen import write_colour_set
from torch import nn

from labeler.errors import LabelerError
from labeler.finetune.adapt import adapt_batchnorm, sample_files


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5)
    ).eval()


def _batches(n: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(8, 3, 6, 6, generator=g) * 2.0 + 3.0 for _ in range(n)]  # off ImageNet


def test_last_layer_statistics_become_those_of_the_images() -> None:
    net, batches = _net(), _batches()
    first = {k: v.clone() for k, v in net[1].state_dict().items()}
    weights = [p.detach().clone() for p in net.parameters()]
    # Oracle: the inputs of the last batch-norm, with everything before it as it was.
    inputs = [net[:4](b).detach() for b in batches]
    mean = torch.stack([x.mean(dim=(0, 2, 3)) for x in inputs]).mean(0)
    var = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x in inputs]).mean(0)

    seen = adapt_batchnorm(net, batches, layers=1)

    assert seen == 24 and not net.training and net[4].momentum == 0.1
    torch.testing.assert_close(net[4].running_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(net[4].running_var, var, rtol=1e-5, atol=1e-5)
    for k, v in net[1].state_dict().items():  # the earlier layer is untouched
        torch.testing.assert_close(v, first[k])
    for p, w in zip(net.parameters(), weights, strict=True):
        torch.testing.assert_close(p, w)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(LabelerError, match="no batch-norm layers"):
        adapt_batchnorm(nn.Linear(3, 2), [], layers=1)
    norms = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in _net().modules())
    for layers in (0, norms + 1):
        refused = rf"--layers must be from 1 to {norms} .*got {layers}"
        with pytest.raises(LabelerError, match=refused):
            adapt_batchnorm(_net(), _batches(), layers=layers)
    adapt_batchnorm(_net(), _batches(), layers=norms)  # every one: allowed
    net = _net()
    with pytest.raises(LabelerError, match="no images"):
        adapt_batchnorm(net, [], layers=2)
    assert not net.training


def test_sample_is_seeded_and_keeps_order(tmp_path) -> None:
    files = [tmp_path / f"{i:03d}.png" for i in range(50)]
    assert sample_files(files, size=100) == files
    picked = sample_files(files, size=10)
    assert len(picked) == 10 and picked == sorted(picked) and picked == sample_files(files, size=10)


def test_project_adapt_saves_weights_and_re_embeds(tmp_path) -> None:
    """The real offline backbone on a few images: a new model key, new vectors, labels kept;
    a rescan afterwards finds every vector cached under the new key."""
    from labeler.project import Project

    folder = tmp_path / "images"
    truth = write_colour_set(folder, 3)
    project, _ = Project.init(tmp_path / "p", images=folder, progress=False)
    with project:
        before, old = project.model_key, project._vectors().raw.copy()
        project.label(sorted(truth.items())[:2])
        init = project.adapt(progress=False)
        assert init.embedded == len(truth) and init.images == len(truth)
        assert project.model_key != before and "+" in project.model_key
        assert len(list((project.path / "adapted").glob("*.pt"))) == 1
        assert not np.allclose(project._vectors().raw, old)
        assert len(project.store.labels()) == 2
        assert project.rescan(progress=False).embedded == 0


def test_cli_adapt_reports_the_new_model_and_refuses_a_backbone_without_one(
    tmp_path, capsys
) -> None:
    from labeler.cli import main

    folder = tmp_path / "images"
    write_colour_set(folder, 2)
    real, fake = str(tmp_path / "real"), str(tmp_path / "fake")
    assert main(["init", real, "--images", str(folder)]) == 0
    capsys.readouterr()
    assert main(["adapt", real, "--sample", "4", "--layers", "2"]) == 0
    out = capsys.readouterr().out
    assert "adapted efficientnet_lite0@112 to the project's images" in out
    assert "re-embedded 6 images with efficientnet_lite0+" in out
    assert main(["init", fake, "--images", str(folder), "--backbone", "fake"]) == 0
    assert main(["adapt", fake]) != 0
    assert "no network whose statistics could adapt" in capsys.readouterr().err
