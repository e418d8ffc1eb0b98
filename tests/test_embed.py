"""labeler.embed: registry, devices, sizes, preprocessing, the pipeline, the cache, the backends.

Nothing here downloads: timm's download functions are replaced by ones that fail.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import FAKE_DIM, FakeEmbedder, register_fake
from PIL import Image

from labeler.config import EMBED_MAX_ACCELERATOR_WORKERS, IMAGE_SIZES
from labeler.embed import (
    EmbedResult,
    ImagePreprocessor,
    VectorCache,
    available_embedders,
    choose_image_size,
    create_embedder,
    embed_files,
    load_offline_lite0_state_dict,
    offline_lite0_weights_path,
    pipeline,
    resolve_device,
    safe_key,
)
from labeler.embed.base import Embedder
from labeler.embed.pipeline import default_num_workers, plan_cpu_workers
from labeler.errors import LabelerError

register_fake()

HAS_ACCELERATOR = torch.cuda.is_available() or torch.backends.mps.is_available()


# ---------------------------------------------------------------- helpers


def pattern_image(seed: int, size: tuple[int, int] = (40, 40)) -> Image.Image:
    """A seeded RGB image with structure (blobs and stripes), not just noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    channels = []
    for _ in range(3):
        cx, cy, r, f = (
            rng.uniform(0.2, 0.8),
            rng.uniform(0.2, 0.8),
            rng.uniform(0.1, 0.4),
            1 + seed % 4,
        )
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * f * (xx + yy * rng.uniform(-1, 1)))
        channels.append(0.6 * blob + 0.4 * stripes)
    pixels = np.clip(255 * np.stack(channels, -1), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def write_images(folder: Path, n: int, *, size: tuple[int, int] = (40, 40)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:03d}.png"
        pattern_image(i, size).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt by timm to fetch weights fails (as on a machine without network)."""
    import timm.models._builder as builder

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    for name in (
        "download_cached_file",
        "load_state_dict_from_url",
        "load_state_dict_from_hf",
        "load_custom_from_hf",
    ):
        monkeypatch.setattr(builder, name, refuse, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------- devices, sizes, registry


@pytest.mark.skipif(HAS_ACCELERATOR, reason="auto picks the accelerator here")
def test_resolve_device_auto_is_cpu_without_accelerator():
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_resolve_device_cuda_absent_is_a_clear_error():
    with pytest.raises(LabelerError, match=r"'cuda'.*no CUDA GPU.*--device auto or cpu"):
        resolve_device("cuda")


def test_resolve_device_unknown_lists_choices():
    with pytest.raises(LabelerError, match=r"unknown device 'tpu'.*auto, cpu, cuda"):
        resolve_device("tpu")


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([(28, 28)] * 5, 112),
        ([(112, 112)], 112),
        ([(200, 150), (300, 140), (90, 90)], 160),
        ([(1000, 800), (4000, 3000)], 224),
        ([], IMAGE_SIZES[-1]),
    ],
)
def test_choose_image_size(sizes, expected):
    assert choose_image_size(sizes) == expected


def test_registry_lists_backends_and_rejects_unknown_names():
    register_fake()  # idempotent
    assert {"efficientnet_lite0", "fake"} <= set(available_embedders())
    with pytest.raises(
        LabelerError, match=r"unknown backbone 'no_such_net'.*efficientnet_lite0.*fake"
    ):
        create_embedder("no_such_net")


def test_create_embedder_validates_size_and_checkpoint(tmp_path):
    embedder = create_embedder("fake", device="cpu", image_size=112)  # fixed size: 32
    assert isinstance(embedder, Embedder)
    assert (embedder.key, embedder.image_size, embedder.dim) == ("fake@32", 32, FAKE_DIM)
    for bad in (0, 8, 1025, 100_000, "112", True):
        with pytest.raises(LabelerError, match="image size"):
            create_embedder("fake", image_size=bad)
    with pytest.raises(LabelerError, match="does not exist"):
        create_embedder("fake", checkpoint=tmp_path / "missing.pth")


# ---------------------------------------------------------------- preprocessing


def test_preprocessor_shape_normalisation_crop_and_pickle():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    pre = ImagePreprocessor(size=56, mean=mean, std=std)
    flat = Image.new("RGB", (30, 20), tuple(round(m * 255) for m in mean))
    x = pre(flat)
    assert x.shape == (3, 56, 56) and x.dtype == torch.float32
    assert float(x.abs().max()) < 0.02  # the mean colour maps to ~0
    # a wide image is centre-cropped: its red left and right margins are cut away
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20, 0] = wide[:, 40:, 0] = 255
    wide[:, 20:40, 2] = 255
    y = pre(Image.fromarray(wide))
    assert float(y[0].max()) < 0  # no red left
    clone = pickle.loads(pickle.dumps(pre))
    assert torch.equal(clone(flat), x)


# ---------------------------------------------------------------- pipeline


def test_embed_files_reports_bad_files_and_keeps_order(tmp_path):
    paths = write_images(tmp_path, 5)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    paths = [*paths[:2], corrupt, *paths[2:], tmp_path / "missing.png"]
    fake = FakeEmbedder()
    result = embed_files(fake, paths, batch_size=3, num_workers=0, progress=False)
    assert isinstance(result, EmbedResult)
    assert result.vectors.shape == (7, FAKE_DIM) and result.vectors.dtype == np.float32
    assert result.ok.tolist() == [True, True, False, True, True, True, False]
    assert set(result.errors) == {2, 6}
    assert all(isinstance(r, str) and r for r in result.errors.values())
    assert not result.vectors[~result.ok].any()
    from labeler.ingest import load_image

    expected = fake.forward(torch.stack([fake.preprocess(load_image(p)) for p in paths[:2]]))
    np.testing.assert_allclose(result.vectors[:2], expected, rtol=1e-6)


def test_a_file_changed_since_its_scan_is_not_embedded_under_its_old_hash(tmp_path):
    from labeler.embed.pipeline import CHANGED
    from labeler.ingest.scan import sha256_file

    paths = write_images(tmp_path, 3)
    hashes = [sha256_file(p) for p in paths]
    paths[1].write_bytes(paths[2].read_bytes())  # replaced after the scan hashed it
    for workers in (0, 1):
        result = embed_files(
            FakeEmbedder(), paths, hashes=hashes, num_workers=workers, progress=False
        )
        assert result.ok.tolist() == [True, False, True]
        assert result.errors == {1: CHANGED} and "run init again" in CHANGED


def test_embed_files_same_vectors_with_workers_and_auto_plan(tmp_path):
    paths = write_images(tmp_path, 11)
    fake = FakeEmbedder()
    serial = embed_files(fake, paths, batch_size=4, num_workers=0, progress=False)
    workers = embed_files(fake, paths, batch_size=4, num_workers=1, progress=False)
    auto = embed_files(fake, paths, batch_size=2, progress=False)  # probe, then plan
    assert serial.ok.all() and not serial.errors
    np.testing.assert_array_equal(workers.vectors, serial.vectors)
    np.testing.assert_array_equal(auto.vectors, serial.vectors)


def test_embed_files_empty_and_bad_options(tmp_path):
    result = embed_files(FakeEmbedder(), [], progress=False)
    assert result.vectors.shape == (0, FAKE_DIM) and result.ok.shape == (0,)
    with pytest.raises(LabelerError, match="batch size"):
        embed_files(FakeEmbedder(), [tmp_path / "a.png"], batch_size=0)
    with pytest.raises(LabelerError, match="workers"):
        embed_files(FakeEmbedder(), [tmp_path / "a.png"], num_workers=-1)


def test_plan_cpu_workers():
    # cheap decoding (small PNGs): decode in-process, keep all threads
    assert plan_cpu_workers(0.02, 0.3, cpus=2, threads=2) == (0, 2)
    # decoding costlier than the forward: one worker, one thread each
    assert plan_cpu_workers(0.4, 0.3, cpus=2, threads=2) == (1, 1)
    assert plan_cpu_workers(0.4, 0.3, cpus=1, threads=1) == (0, 1)
    workers, threads = plan_cpu_workers(0.3, 0.3, cpus=16, threads=16)
    assert workers >= 1 and workers + threads <= 16


@pytest.mark.parametrize(
    ("device", "cpus", "n_files", "expected"),
    [
        ("cuda", 16, 5000, 15),  # beside a GPU: every core but the one feeding it
        ("cuda", 128, 5000, EMBED_MAX_ACCELERATOR_WORKERS),  # capped on very large hosts
        ("cuda", 1, 5000, 1),
        ("cuda", 16, 64, 0),  # one batch: starting processes costs more than it saves
        ("cpu", 16, 5000, 0),  # the CPU measures first (plan_cpu_workers)
    ],
)
def test_default_num_workers(monkeypatch, device, cpus, n_files, expected):
    monkeypatch.setattr(pipeline, "available_cpus", lambda: cpus)
    assert default_num_workers(torch.device(device), n_files, 64) == expected


# ---------------------------------------------------------------- vector cache


def test_cache_round_trip_persistence_and_idempotence(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    cache = VectorCache(tmp_path, "fake@32")
    assert len(cache) == 0 and cache.dim is None
    cache.put(["a", "b", "c", "a"], np.vstack([vectors[:3], vectors[3]]))  # repeated "a": first
    assert len(cache) == 3 and "b" in cache and "z" not in cache and cache.dim == 8
    shards = sorted(cache.folder.glob("shard-*.npz"))
    cache.put(["b", "c"], vectors[1:3])  # known: writes nothing
    assert sorted(cache.folder.glob("shard-*.npz")) == shards
    cache.put(["d"], vectors[3:])
    again = VectorCache(tmp_path, "fake@32")
    got, found = again.get(["c", "x", "a", "d"])
    assert found.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(got[[0, 2, 3]], vectors[[2, 0, 3]])
    assert not got[1].any() and got.dtype == np.float32
    with pytest.raises(LabelerError, match="8-d vectors, got 5-d"):
        again.put(["e"], np.zeros((1, 5)))


def test_cache_key_folders_are_safe_and_distinct(tmp_path):
    assert safe_key("efficientnet_lite0@112") == "efficientnet_lite0@112"
    assert safe_key("timm:x@224") != safe_key("timm_x@224")
    assert "/" not in safe_key("../../etc@1") and not safe_key("..").startswith(".")
    empty = VectorCache(tmp_path, "timm:resnet50@224", dim=4)
    vectors, found = empty.get(["a", "b"])
    assert vectors.shape == (2, 4) and not found.any()
    assert empty.folder.parent == tmp_path


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    cache = VectorCache(tmp_path, "fake@32")
    cache.put(["a"], np.ones((1, 3)))

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(LabelerError, match="cannot write to the vector cache"):
        cache.put(["b"], np.ones((1, 3)))
    monkeypatch.undo()
    assert [p.name for p in cache.folder.iterdir()] == ["shard-000001.npz"]  # no temp left
    (cache.folder / ".shard-000002.123.tmp").write_bytes(b"half written")  # a crashed writer
    reopened = VectorCache(tmp_path, "fake@32")
    assert len(reopened) == 1 and "b" not in reopened


def test_cache_corrupt_shard_names_file_and_fix(tmp_path):
    cache = VectorCache(tmp_path, "fake@32")
    cache.put(["a"], np.ones((1, 3)))
    (cache.folder / "shard-000002.npz").write_bytes(b"garbage")
    with pytest.raises(LabelerError, match=r"shard-000002\.npz.*corrupt.*delete the folder"):
        len(VectorCache(tmp_path, "fake@32"))


# ---------------------------------------------------------------- generic timm backend


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_local_checkpoint_loads_exact_weights(tmp_path, no_download, suffix):
    import timm
    from safetensors.torch import save_file

    source = timm.create_model("test_efficientnet", pretrained=False)  # with classifier
    state = {k: v.clone().contiguous() for k, v in source.state_dict().items()}
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    embedder = create_embedder("timm:test_efficientnet", device="cpu", checkpoint=path)
    loaded = embedder.model.state_dict()
    assert "classifier.weight" not in loaded
    for key, value in loaded.items():
        assert torch.equal(value.cpu(), state[key]), key
    assert embedder.key.startswith("timm:test_efficientnet+") and embedder.key.endswith("@160")
    plain = create_embedder("test_efficientnet", device="cpu", image_size=64, checkpoint=path)
    assert plain.key.endswith("@64") and plain.key.split("@")[0] == embedder.key.split("@")[0]
    out = plain.forward(torch.stack([plain.preprocess(pattern_image(i)) for i in range(3)]))
    assert out.shape == (3, plain.dim) and out.dtype == np.float32

    broken = {("x." + k if i % 2 else k): v for i, (k, v) in enumerate(state.items())}
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(LabelerError, match="lacks"):
        create_embedder("timm:test_efficientnet", checkpoint=tmp_path / "broken.pth")
    (tmp_path / "notes.safetensors").write_text("no weights", encoding="utf-8")
    with pytest.raises(LabelerError, match=r"notes\.safetensors is not a PyTorch weights file"):
        create_embedder("timm:test_efficientnet", checkpoint=tmp_path / "notes.safetensors")


def test_timm_without_network_is_a_clear_error(no_download):
    with pytest.raises(
        LabelerError, match=r"could not download pretrained weights.*'efficientnet_lite0'"
    ):
        create_embedder("timm:test_efficientnet", device="cpu")


def test_an_unreachable_hub_fails_at_once_and_names_the_checkpoint_option(
    no_download, monkeypatch
) -> None:
    """No name lookup: the hub's client is told it is offline (cache only), instead of retrying
    for most of a minute."""
    import socket

    import huggingface_hub.constants as hub

    def no_dns(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    seen = []

    def create_model(*args, **kwargs):
        seen.append(hub.HF_HUB_OFFLINE)
        raise OSError("not in the cache")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr("timm.create_model", create_model)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LabelerError, match=r"cannot be reached.*pass --checkpoint FILE"):
        create_embedder("timm:test_efficientnet", device="cpu")
    assert seen == [True] and hub.HF_HUB_OFFLINE is False  # offline for that call only


def test_accelerator_code_path_runs_on_cpu(tmp_path, no_download):
    """channels-last and autocast (what CUDA uses) give the same features, here on the CPU."""
    import timm

    path = tmp_path / "w.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), path)
    embedder = create_embedder("test_efficientnet", device="cpu", image_size=64, checkpoint=path)
    batch = torch.stack([embedder.preprocess(pattern_image(i)) for i in range(4)])
    reference = embedder.forward(batch)
    embedder.channels_last, embedder.autocast_dtype = True, torch.bfloat16
    embedder.model = embedder.model.to(memory_format=torch.channels_last)
    fast = embedder.forward(batch)
    assert fast.dtype == np.float32
    cosine = (
        (fast * reference).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(reference, axis=1)
    )
    assert cosine.min() > 0.98


# ---------------------------------------------------------------- the offline default


def test_offline_state_dict_maps_file_by_position():
    from labeler.embed.offline import build_lite0

    source = torch.load(offline_lite0_weights_path(), map_location="cpu", weights_only=True)
    for num_classes, expected in ((1000, 296), (0, 294)):
        model = build_lite0(num_classes=num_classes)
        mapped = load_offline_lite0_state_dict(model)
        assert list(mapped) == list(model.state_dict()) and len(mapped) == expected
        for (_, ours), theirs in zip(mapped.items(), source.values(), strict=False):
            assert torch.equal(ours, theirs)
    import timm

    with pytest.raises(LabelerError, match="not EfficientNet-Lite0"):
        load_offline_lite0_state_dict(timm.create_model("test_efficientnet"))


@pytest.fixture(scope="module")
def lite0():
    return create_embedder(device="cpu", image_size=112)


def test_offline_default_embeds_real_files(lite0, tmp_path):
    """The real default backbone on a handful of small image files: shape, finite, repeatable."""
    assert (lite0.key, lite0.dim, lite0.image_size) == ("efficientnet_lite0@112", 1280, 112)
    paths = write_images(tmp_path, 6, size=(48, 40))
    first = embed_files(lite0, paths, batch_size=4, progress=False)
    second = embed_files(lite0, paths, batch_size=6, num_workers=0, progress=False)
    assert first.vectors.shape == (6, 1280) and first.ok.all()
    assert np.isfinite(first.vectors).all() and first.vectors.std() > 0
    np.testing.assert_allclose(first.vectors, second.vectors, rtol=1e-4, atol=1e-5)


def test_offline_weights_are_not_random(lite0):
    """Two crops of one picture are closer than different pictures (a random net is blind)."""
    images = [pattern_image(seed, (96, 96)) for seed in range(4)]
    crops = [im.crop((0, 0, 80, 80)) for im in images] + [
        im.crop((16, 16, 96, 96)) for im in images
    ]
    v = lite0.forward(torch.stack([lite0.preprocess(c) for c in crops]))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sim = v @ v.T
    same = np.array([sim[i, i + 4] for i in range(4)])
    other = np.array([sim[i, j + 4] for i in range(4) for j in range(4) if i != j])
    assert same.min() > other.max()
    assert float(lite0.model.bn2.running_var.mean()) != 1.0  # loaded, not initialised
