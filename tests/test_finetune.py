"""Fine-tuning: a tiny CNN learns planted classes its random features cannot tell apart; only the
chosen blocks change; the project re-embeds with the saved weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from imagegen import write_colour_set
from PIL import Image
from torch import nn

from labeler.errors import LabelerError
from labeler.finetune import finetune_backbone, trainable_parameters


class TinyNet(nn.Module):
    """stem → 3 blocks → pooled 8-d features, like a timm backbone with num_classes=0."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv_stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
                for _ in range(3)
            ]
        )
        self.conv_head = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(torch.relu(self.bn1(self.conv_stem(x))))
        return self.conv_head(x).mean(dim=(2, 3))


def _preprocess(image: Image.Image) -> torch.Tensor:
    pixels = np.asarray(image.convert("RGB").resize((16, 16)), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy()) - 0.5


def _stripes(n: int, vertical: bool, seed: int) -> list[Image.Image]:
    """Grey images with stripes, vertical or horizontal: same colour statistics per class."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = np.zeros((16, 16), dtype=np.uint8)
        phase = rng.integers(0, 4)
        if vertical:
            a[:, phase::4] = 255
        else:
            a[phase::4, :] = 255
        out.append(Image.fromarray(a).convert("RGB"))
    return out


def test_trainable_parameters_are_the_last_blocks_and_after() -> None:
    net = TinyNet()
    names = {id(p): n for n, p in net.named_parameters()}
    last = [names[id(p)] for p in trainable_parameters(net, 1)]
    assert last[0].startswith("blocks.2.") and last[-1].startswith("conv_head")
    assert not any(n.startswith(("blocks.0.", "blocks.1.", "conv_stem")) for n in last)
    head_only = [names[id(p)] for p in trainable_parameters(net, 0)]
    assert head_only == ["conv_head.weight", "conv_head.bias"]
    assert len(trainable_parameters(net, None)) == len(list(net.parameters()))
    assert len(trainable_parameters(net, 3)) == len(list(net.parameters())) - 4  # not the stem
    with pytest.raises(LabelerError, match=r"last 4 blocks: the backbone has 3; pass --blocks "):
        trainable_parameters(net, 4)


def test_finetuning_learns_and_changes_only_the_chosen_blocks() -> None:
    images = _stripes(12, True, 0) + _stripes(12, False, 1)
    labels = np.repeat([0, 1], 12)
    net = TinyNet()
    frozen_before = {
        n: p.detach().clone() for n, p in net.named_parameters() if n.startswith("blocks.0.")
    }
    stats_before = net.blocks[0][1].running_mean.clone()
    trained_before = net.conv_head.weight.detach().clone()
    report = finetune_backbone(
        net, images, labels, preprocess=_preprocess, image_size=16,
        device=torch.device("cpu"), steps=40, blocks=1, augment=False, progress=False,
    )  # fmt: skip
    assert report.steps == 40 and not report.mixed_precision
    assert report.last_loss < report.first_loss * 0.7, report
    for n, p in net.named_parameters():
        if n in frozen_before:
            torch.testing.assert_close(p, frozen_before[n])
    torch.testing.assert_close(net.blocks[0][1].running_mean, stats_before)  # frozen BN stats
    assert not torch.equal(net.conv_head.weight, trained_before)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_finetuning_stops_at_the_time_budget_and_refuses_bad_input() -> None:
    images = _stripes(4, True, 2) + _stripes(4, False, 3)
    labels = np.repeat([0, 1], 4)
    report = finetune_backbone(
        TinyNet(), images, labels, preprocess=_preprocess, image_size=16,
        device=torch.device("cpu"), steps=10_000, time_limit_s=0.0, progress=False,
    )  # fmt: skip
    assert report.steps == 1
    with pytest.raises(LabelerError, match="two classes"):
        finetune_backbone(
            TinyNet(), images, np.zeros(8, dtype=int), preprocess=_preprocess,
            image_size=16, device=torch.device("cpu"),
        )  # fmt: skip


def _six_labels_of_nine(tmp_path):
    """(images folder, [(path, colour)] of its 9 images, a project on the real offline backbone
    with 6 of them labeled)."""
    from labeler.project import Project

    folder = tmp_path / "images"
    truth = sorted(write_colour_set(folder, 3).items())
    project, _ = Project.init(tmp_path / "p", images=folder, progress=False)
    project.label(truth[:3] + truth[4:7])
    return folder, truth, project


def test_project_finetune_re_embeds_and_records_the_labels_it_saw(tmp_path, capsys) -> None:
    """The real offline backbone, 9 images, fine-tuned on 6 labels: a new model key, new vectors;
    with one more label, predict and status say 6 were seen, and a later adapt (weights derived
    from the fine-tuned ones) keeps that record."""
    from labeler.cli import main

    folder, truth, project = _six_labels_of_nine(tmp_path)
    with project:
        before, old = project.model_key, project._vectors().raw.copy()
        assert project.trained_on() == [] and project.predict().seen_by_backbone == 0
        seen = sorted(lab.item_id for lab in project.store.labels())
        with pytest.raises(LabelerError, match=r"from 0 to 7, or -1 to train the whole backbone"):
            project.finetune(steps=2, blocks=99, progress=False)  # efficientnet_lite0 has 7
        gone = folder / truth[0][0]
        gone.rename(tmp_path / "away.png")  # since the last scan
        with pytest.raises(
            LabelerError, match=r"cannot be read \(gone since .*run `labeler init .*` to rescan"
        ):
            project.finetune(steps=2, blocks=0, progress=False)
        (tmp_path / "away.png").rename(gone)
        original = gone.read_bytes()
        Image.new("RGB", (40, 40), (0, 0, 0)).save(gone)  # another image under the labeled name
        with pytest.raises(
            LabelerError, match=r"1 image changed on disk since .*to rescan.*then fine-tune again"
        ):
            project.finetune(steps=2, blocks=0, progress=False)
        gone.write_bytes(original)
        init, report = project.finetune(steps=2, blocks=0, progress=False)
        assert report.steps == 2 and init.embedded == len(truth)
        assert project.model_key != before and "+" in project.model_key
        assert (project.path / "finetuned").is_dir()
        assert not np.allclose(project._vectors().raw, old)
        assert len(project.store.labels()) == 6  # the labels stay
        assert project.trained_on() == seen
        project.update(folder, image_size=96, progress=False)  # the same weights, another size
        assert project.model_key.endswith("@96") and project.trained_on() == seen
        project.label(truth[8:])
        report = project.predict()
        assert (report.labeled, report.seen_by_backbone) == (7, 6)
        assert project.status()["fine_tuned_on"] == 6
        project.adapt(sample=4, layers=1, progress=False)
        assert project.trained_on() == seen
    assert main(["predict", str(tmp_path / "p")]) == 0
    assert "the backbone was fine-tuned on 6 of these 7 labels" in capsys.readouterr().out


def test_original_weights_undo_finetune_and_adapt_and_finetune_can_start_from_them(
    tmp_path, monkeypatch
) -> None:
    """Each fine-tune goes on from the weights now; `from_original` starts from the first ones,
    and `original_weights` embeds with them again, from the cache (nothing embedded anew)."""
    import labeler.finetune.checkpoint as checkpoint
    from labeler.cli import main
    from labeler.project import Project

    _, _, project = _six_labels_of_nine(tmp_path)
    with project:
        first, vectors = project.model_key, project._vectors().raw.copy()
        started = []
        made = checkpoint.finetune_checkpoint

        def recording(folder, files, labels, **weights):
            started.append(weights["checkpoint"])
            return made(folder, files, labels, **weights)

        monkeypatch.setattr(checkpoint, "finetune_checkpoint", recording)
        project.finetune(steps=1, blocks=0, progress=False)
        tuned = project.model_key
        project.adapt(sample=4, layers=1, progress=False)
        project.finetune(steps=1, blocks=0, progress=False)  # on from the adapted weights
        project.finetune(steps=1, blocks=0, from_original=True, progress=False)
        assert started[0] is None and started[1] is not None and started[2] is None
        assert project.original_checkpoint() is None
        assert project.model_key == tuned  # the first run again: same start, same (seeded) steps
    assert main(["init", str(tmp_path / "p"), "--original-weights"]) == 0
    with Project(tmp_path / "p") as back:
        assert back.model_key == first and np.array_equal(back._vectors().raw, vectors)
        assert back.trained_on() == []  # the original weights saw no label
    assert main(["init", str(tmp_path / "p"), "--original-weights", "--backbone", "x"]) == 2
