"""Zero-shot: the real open_clip loading code on a tiny local checkpoint (no download), the text
prior head against an oracle, and the project refusing zero-shot without CLIP weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labeler.errors import LabelerError
from labeler.heads import create_head

open_clip = pytest.importorskip("open_clip")

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_clip(tmp_path, monkeypatch):
    """A randomly initialised tiny CLIP saved as a local checkpoint file."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "tiny-test-clip.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(tmp_path / "configs")
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-test-clip")
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    monkeypatch.setenv("LABELER_CLIP_MODEL", "tiny-test-clip")
    return path


def test_clip_embedder_and_text_share_one_space(tiny_clip) -> None:
    from PIL import Image

    from labeler.embed import create_embedder
    from labeler.embed.clip_backend import text_embeddings

    embedder = create_embedder("clip", device="cpu", checkpoint=tiny_clip)
    assert embedder.dim == 16 and embedder.image_size == 32
    assert embedder.key.startswith("clip-tiny-test-clip+")
    image = Image.fromarray(np.full((40, 50, 3), 120, dtype=np.uint8))
    vectors = embedder.forward(torch.stack([embedder.preprocess(image)]))
    assert vectors.shape == (1, 16) and np.isfinite(vectors).all()
    text = text_embeddings(["cat", "dog"], tiny_clip)
    assert text.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(text, text_embeddings(["cat", "dog"], tiny_clip), atol=1e-6)
    assert not np.allclose(text[0], text[1])


def test_missing_weights_turn_zero_shot_off(tmp_path) -> None:
    from labeler.embed import create_embedder

    with pytest.raises(LabelerError, match="does not exist"):
        create_embedder("clip", device="cpu", checkpoint=tmp_path / "absent.pt")
    with pytest.raises(LabelerError, match="needs local weights"):
        create_embedder("clip", device="cpu")


def test_text_prior_prototypes_match_an_oracle() -> None:
    rng = np.random.default_rng(0)
    text = {"a": rng.normal(size=8), "b": rng.normal(size=8)}
    X = rng.normal(size=(3, 8)).astype(np.float32)
    head = create_head("zeroshot", class_text=text, weight=2.0).fit(X, ["a", "a", "b"])

    def unit(v):
        return v / np.linalg.norm(v)

    expected = [
        unit(unit(X[0]) + unit(X[1]) + 2 * unit(text["a"])),
        unit(unit(X[2]) + 2 * unit(text["b"])),
    ]
    np.testing.assert_allclose(head.prototypes_, np.array(expected), atol=1e-5)
    with pytest.raises(LabelerError, match="same CLIP checkpoint"):
        create_head("zeroshot", class_text={"a": np.ones(5)}).fit(X, ["a", "b", "b"])


def test_one_label_and_the_name_beat_one_label_alone() -> None:
    """Classes whose text prototype is their true mean: the prior fixes atypical examples."""
    rng = np.random.default_rng(1)
    means = rng.normal(size=(4, 32)) * 2
    y = rng.integers(0, 4, 400)
    X = (means[y] + rng.normal(size=(400, 32)) * 4.0).astype(np.float32)
    support = np.array([np.flatnonzero(y == c)[0] for c in range(4)])
    names = [f"c{c}" for c in range(4)]
    plain = create_head("zeroshot").fit(X[support], [names[c] for c in y[support]])
    prior = create_head("zeroshot", class_text={n: means[c] for c, n in enumerate(names)}).fit(
        X[support], [names[c] for c in y[support]]
    )
    acc = [(h.predict_proba(X).argmax(1) == y).mean() for h in (plain, prior)]
    assert acc[1] > acc[0] + 0.05, acc


def test_project_refuses_zero_shot_without_clip(project, colour_images) -> None:
    _, truth = colour_images
    first = {}
    for path, label in sorted(truth.items()):
        first.setdefault(label, path)
    project.label([(p, c) for c, p in first.items()])
    with pytest.raises(LabelerError, match="CLIP backbone"):
        project.predict(method="zeroshot")


def test_the_accuracy_check_of_zero_shot_labels_uses_the_class_names(
    tiny_clip, colour_images, tmp_path, monkeypatch
) -> None:
    """The out-of-fold heads that check `zeroshot`'s auto-labels are `zeroshot` with the same
    text prototypes, not a head without the class names."""
    import labeler.evaluate
    from labeler.project import Project

    folder, truth = colour_images
    made = []
    real = labeler.evaluate.create_head

    def spy(method, **options):
        made.append((method, sorted(options.get("class_text", {}))))
        return real(method, **options)

    monkeypatch.setattr(labeler.evaluate, "create_head", spy)
    project, _ = Project.init(
        tmp_path / "p", images=folder, backbone="clip", checkpoint=tiny_clip, progress=False
    )
    with project:
        project.label([(p, truth[p]) for p in sorted(truth)[::2]])
        report = project.predict(method="zeroshot")
    assert report.estimate is not None and made
    assert all(m == ("zeroshot", sorted(set(truth.values()))) for m in made)
