"""Reading a local weights file (`--checkpoint`): a state dict saved by torch.save, or a
.safetensors file, read without running code; any other file is refused in one sentence that says
what the option takes."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from labeler.errors import LabelerError

SAFETENSORS_SUFFIX = ".safetensors"  # read as safetensors; any other suffix by torch.load
_PICKLED_OBJECTS = "Unsupported global"  # what torch's weights-only loader says of such a file


def read_weights(path: Path) -> dict:
    """The state dict in the weights file `path`, on the CPU: a .safetensors file, or a file saved
    by torch.save (.pth, .pt, .bin) read with weights_only (tensors and plain containers only).

    Raises:
        LabelerError: `path` is no such file (a text file, an image, a whole pickled model), or
            holds something other than a dict (a list, a tensor).
    """
    try:
        if path.suffix.lower() == SAFETENSORS_SUFFIX:
            from safetensors.torch import load_file

            weights = load_file(path)
        else:
            weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise not_weights(path, _why(path, exc)) from exc
    if not isinstance(weights, dict):
        raise not_weights(path, f"it holds a {type(weights).__name__}, not a state dict")
    return weights


def not_weights(path: Path, why: str) -> LabelerError:
    """The error for a --checkpoint file that holds no weights, saying `why` and what it takes."""
    return LabelerError(
        f"{path} is not a PyTorch weights file ({why}); --checkpoint takes a state dict saved "
        "with torch.save(model.state_dict(), FILE) as .pth, .pt or .bin, or a .safetensors file: "
        "pass such a file, or leave out --checkpoint to use the backbone's own weights"
    )


def _why(path: Path, exc: Exception) -> str:
    """Why torch.load or safetensors refused the file `path`, in a few words."""
    if path.suffix.lower() == SAFETENSORS_SUFFIX:
        return "it is not in the safetensors format that its name says"
    if isinstance(exc, pickle.UnpicklingError) and _PICKLED_OBJECTS in str(exc):
        return (
            "it holds pickled Python objects, which are not loaded as they could run code: "
            "a whole model saved with torch.save(model)?"
        )
    return "it is not in the format that torch.save writes"
