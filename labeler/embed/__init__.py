"""Image embedders: the protocol, the registry of backends, batched embedding, the vector cache.

>>> from labeler.embed import create_embedder, embed_files, VectorCache
>>> embedder = create_embedder("efficientnet_lite0", device="auto", image_size=112)
>>> result = embed_files(embedder, paths)          # result.vectors: (N, 1280) float32
>>> VectorCache(project / "vectors", embedder.key).put(hashes, result.vectors[result.ok])

The vector cache is imported with the package; the rest (torch, timm) when first asked for,
so that reading cached vectors costs no second of imports and no 600 MB.
"""

import importlib

from labeler.embed.cache import VectorCache as VectorCache
from labeler.embed.cache import safe_key as safe_key

# name -> the submodule that defines it, imported on first use (PEP 562 module __getattr__)
_LAZY = {
    "Embedder": "base",
    "available_embedders": "base",
    "choose_image_size": "base",
    "create_embedder": "base",
    "register_embedder": "base",
    "resolve_device": "base",
    "load_offline_lite0_state_dict": "offline",
    "offline_lite0_weights_path": "offline",
    "EmbedResult": "pipeline",
    "default_num_workers": "pipeline",
    "embed_files": "pipeline",
    "ImagePreprocessor": "timm_backend",
    "TimmEmbedder": "timm_backend",
}

__all__ = [*_LAZY, "VectorCache", "safe_key"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value  # asked once
    return value
