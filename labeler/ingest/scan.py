"""Walk an images folder: list candidate files, hash them, and check each one cheaply."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from labeler.config import DB_NAME, HASH_CHUNK, IMAGE_SUFFIXES, MAX_PIXELS
from labeler.errors import ImageError, LabelerError
from labeler.ingest.decode import describe_failure, probe_with_identity
from labeler.ingest.dicom import is_dicom, pixel_identity
from labeler.ingest.records import ImageFile, Known, ScanResult, Skipped

_SUPPORTED = ", ".join(sorted(IMAGE_SUFFIXES))
_IN_PROJECT_FOLDER = (
    "inside a labeler project's folder, which scans leave out (it holds the project's database "
    "and vectors): move the image out of that folder to label it"
)
# Files left out of the scan silently, not listed as skipped on every rescan: operating-system
# junk, and types that are plainly no image. Hidden names ('.…', which covers macOS's .DS_Store
# and ._ AppleDouble files) are left out too. Any other file is tried: DICOM files often have
# no extension or an odd one (PACS exports), so only these explicit ones are ignored.
IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})  # compared in lower case
IGNORED_PREFIXES = ("~$",)  # Office lock files
IGNORED_SUFFIXES = frozenset(
    {".csv", ".txt", ".json", ".xml", ".md", ".html", ".log", ".ini", ".py"}  # text
    | {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".zip", ".db"}  # documents, archives, databases
)


def _check_root(root: Path | str) -> Path:
    """The absolute images folder, or LabelerError saying what is wrong with `root`."""
    path = Path(root).expanduser()
    if not path.exists():
        raise LabelerError(
            f"images folder not found: {path}; pass an existing folder that contains the images."
        )
    if not path.is_dir():
        raise LabelerError(
            f"images path is not a folder: {path}; pass the folder that contains the images, "
            "not a single file."
        )
    return path.resolve()


def _display(rel: str) -> str:
    """`rel` made printable: bytes that are not UTF-8 in a file name become U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unsupported_reason(suffix: str) -> str:
    """The reason sentence for a file whose suffix is not an image suffix."""
    kind = f"'{suffix}'" if suffix else "(no extension)"
    return (
        f"unsupported file type {kind} (supported: {_SUPPORTED}; DICOM also with no or another "
        "extension, by its DICM marker or a DICOM data set at its start)"
    )


def _ignored(name: str) -> bool:
    """Whether a file called `name` is left out of the scan unlisted: operating-system junk or
    plainly no image (IGNORED_NAMES, IGNORED_PREFIXES, IGNORED_SUFFIXES)."""
    lower = name.lower()
    return (
        lower in IGNORED_NAMES
        or lower.startswith(IGNORED_PREFIXES)
        or Path(lower).suffix in IGNORED_SUFFIXES
    )


def _classify_file(rel: str, abs_path: Path) -> Skipped | bool:
    """A Skipped record when a regular file is not an image candidate, else whether it is
    DICOM: told by its suffix, or by its first bytes (read here once, not again by the probe).
    """
    suffix = abs_path.suffix
    dicom = is_dicom(abs_path)
    if suffix.lower() not in IMAGE_SUFFIXES and not dicom:
        return Skipped(_display(rel), _unsupported_reason(suffix))
    if _display(rel) != rel:
        return Skipped(_display(rel), "file name is not valid UTF-8; rename the file")
    return dicom


def _stray_images(folder: Path, prefix: str) -> list[Skipped]:
    """Skipped records for the image files under `folder`, a labeler project's folder that the
    scan leaves out (its database and vectors are no images), so that an image put there is
    reported rather than lost from sight. `prefix`: the folder's relative path, with '/'."""
    found = []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        here = Path(parent).relative_to(folder).as_posix()  # '.' at the top
        base = prefix if here == "." else f"{prefix}{here}/"
        found += [
            Skipped(_display(base + name), _IN_PROJECT_FOLDER)
            for name in sorted(files)
            if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")
        ]
    return found


def _walk(root: Path, exclude: Path | None) -> tuple[list[tuple[str, bool]], list[Skipped]]:
    """Find files under `root`, in a deterministic order, leaving out hidden names ('.…'),
    the files `_ignored` names, the folder `exclude` (when given and below `root`) and any
    folder below `root` that holds a project database (a project kept among the images).

    Symlinked folders are followed once: a folder reached again (a symlink loop or a second
    link to the same folder) is reported as skipped. Returns (candidates: (relative path with
    forward slashes, whether it is DICOM), skipped records) and never raises for a bad entry.
    """
    candidates: list[tuple[str, bool]] = []
    skipped: list[Skipped] = []
    seen: set[tuple[int, int]] = set()
    left_out = _identity(exclude) if exclude is not None else None
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            info = folder.stat()
            if prefix and (info.st_dev, info.st_ino) == left_out:
                skipped += _stray_images(folder, prefix)
                continue
            if (info.st_dev, info.st_ino) in seen:
                reason = "symbolic link to a folder already scanned (skipped to avoid duplicates)"
                skipped.append(Skipped(_display(prefix.rstrip("/")), reason))
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            if prefix and any(entry.name == DB_NAME for entry in entries):
                skipped += _stray_images(folder, prefix)  # another project kept among the images
                continue
        except OSError as exc:
            if not prefix:
                raise LabelerError(
                    f"cannot read images folder {root}: {exc.strerror or exc}; check that it "
                    "exists and that you may read it."
                ) from exc
            reason = f"cannot read folder: {exc.strerror or exc}"
            skipped.append(Skipped(_display(prefix.rstrip("/")), reason))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            try:
                if entry.is_dir():
                    subfolders.append((Path(entry.path), rel + "/"))
                elif entry.is_file():
                    if _ignored(entry.name):
                        continue
                    outcome = _classify_file(rel, Path(entry.path))
                    if isinstance(outcome, Skipped):
                        skipped.append(outcome)
                    else:
                        candidates.append((rel, outcome))
                elif entry.is_symlink():
                    skipped.append(Skipped(_display(rel), "broken symbolic link"))
                else:
                    skipped.append(Skipped(_display(rel), "not a regular file"))
            except OSError as exc:
                skipped.append(Skipped(_display(rel), describe_failure(exc)))
        stack.extend(reversed(subfolders))
    return candidates, skipped


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of `folder`, or None when it cannot be read (nothing to leave out)."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of the file's bytes, read in chunks of HASH_CHUNK bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _inspect(
    rel: str,
    abs_path: Path,
    *,
    max_pixels: int,
    dicom: bool,
    known: Mapping[str, Known],
) -> ImageFile | Skipped:
    """Check one candidate file (`dicom`: whether it is DICOM); an ImageFile when it is a usable
    image, else a Skipped. Content already checked (its hash in `known`, with its width, height
    and, for DICOM, pixel identity) is not probed again: the same bytes passed before, and its
    frames are not counted (1)."""
    try:
        size = abs_path.stat().st_size
        digest = sha256_file(abs_path)
        width, height, pixels = known.get(digest, (0, 0, None))
        frames = 1
        if digest not in known:  # one reading of the header, the DICOM identity with it
            width, height, pixels, frames = probe_with_identity(
                abs_path, max_pixels=max_pixels, dicom=dicom
            )
        elif dicom and pixels is None:  # known from before pixel identities
            pixels = pixel_identity(abs_path, max_pixels=max_pixels)
    except ImageError as exc:
        return Skipped(rel, str(exc))
    except Exception as exc:  # a bad file must never stop the scan
        return Skipped(rel, describe_failure(exc))
    return ImageFile(rel, abs_path, digest, size, width, height, pixels, frames)


def scan(
    root: Path | str,
    *,
    max_pixels: int = MAX_PIXELS,
    progress: bool = True,
    exclude: Path | None = None,
    known: Mapping[str, Known] | None = None,
) -> ScanResult:
    """Walk `root` recursively and sort its files into usable images and skipped files.

    Each candidate image is hashed (sha256 of its bytes), its header read for width, height and
    number of frames (refused above `max_pixels` pixels, before any decode) and its integrity
    checked cheaply; pixels are not decoded here (see `load_image`). Hidden files and those
    `_ignored` names (operating-system junk, documents) are left out unlisted; other non-image
    types, empty, unreadable, truncated and corrupt files are reported in `skipped` with a
    reason; no bad file raises.
    `progress` shows one tqdm bar on stderr, over every file the result counts (images and
    skipped; those the walk already skipped, by type or name, start it). `exclude`: a folder
    below `root` left out (a project kept inside its images folder). `known`: {sha256: (width,
    height, DICOM pixel identity or None)} of content checked before (a project's images), not
    probed again: a rescan of an unchanged folder only hashes, and its images' `frames` stay 1,
    so that multi-frame files are counted (and reported) once, when they first come in. Raises
    LabelerError when `root` is not a folder.
    """
    root_path = _check_root(root)
    candidates, skipped = _walk(root_path, exclude)
    images: list[ImageFile] = []
    bar = tqdm(
        candidates,
        desc="Scanning images",
        unit="file",
        file=sys.stderr,
        disable=not progress,
        total=len(candidates) + len(skipped),
        initial=len(skipped),
    )
    for rel, dicom in bar:
        path = root_path.joinpath(*rel.split("/"))
        outcome = _inspect(rel, path, max_pixels=max_pixels, dicom=dicom, known=known or {})
        (images if isinstance(outcome, ImageFile) else skipped).append(outcome)
    images.sort(key=lambda item: item.path)
    skipped.sort(key=lambda item: item.path)
    return ScanResult(images=images, skipped=skipped)
