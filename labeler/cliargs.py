"""What the command line accepts: the parser of every command, with its help text and examples,
and the checks of option values (numbers in range, file names) that argparse reports.

Used by `labeler.cli` and, for the serving options, by app.py.
"""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Callable, Sequence

from labeler import __version__, config
from labeler.export import EXPORTS_DIR

HELP_WIDTH = 78  # a command's description in its --help, as wide as argparse's own text
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_PORT = 65535
CLASS_ACTIONS = {"rename": 2, "merge": 2, "delete": 1}  # `labeler class`: names each takes
CLASS_DASHED_EXAMPLE = "labeler class runs/cells rename -- -neg negative"


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose refusal of unknown arguments says, for `labeler class`, that a
    class name beginning with '-' (read as an option) goes after `--`."""

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            hint = ""
            if parsed.command == "class" and any(a.startswith("-") for a in extras):
                hint = (
                    "; a class name that begins with '-' goes after `--`, e.g. "
                    f"`{CLASS_DASHED_EXAMPLE}`"
                )
            self.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def int_at_least(low: int):
    """An argparse type: a whole number of at least `low`."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a number of at least {low}, got {value}")
        return value

    return parse


_positive_int = int_at_least(1)
_non_negative_int = int_at_least(0)


def _port(text: str) -> int:
    value = _whole_number(text)
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"expected a port from 1 to {MAX_PORT}, got {value}; the default is {DEFAULT_PORT}"
        )
    return value


def _image_size(text: str) -> int:
    low, high = config.IMAGE_SIZE_RANGE
    value = _whole_number(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"expected a side of {low} to {high} pixels, got {value}; "
            f"{', '.join(map(str, config.IMAGE_SIZES))} suit most images"
        )
    return value


def _blocks(text: str) -> int:
    value = _whole_number(text)
    if value < config.ALL_BLOCKS:
        raise argparse.ArgumentTypeError(
            f"expected a number of blocks of at least 0, or {config.ALL_BLOCKS} for all of them, "
            f"got {value}"
        )
    return value


def _number_between(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a number strictly between `low` and `high` (nan refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_minutes = _number_between(0.0, math.inf, "a number of minutes above 0")
_fraction = _number_between(0.0, 1.0, "a number between 0 and 1")


def _file_name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return text


PROJECT_HELP = "the project folder (made by `labeler init`)"
DEVICE_CHOICES = ["auto", "cpu", "cuda", "mps"]
DEVICE_HELP = "where the network runs (default auto: a CUDA GPU, else Apple MPS, else the CPU)"


def _command(
    sub, name: str, summary: str, *, details: str = "", examples: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """A subcommand whose --help opens with `summary` (and `details`) and ends with examples."""
    text = textwrap.fill(f"{summary[0].upper()}{summary[1:]}. {details}".strip(), HELP_WIDTH)
    heading = "example:" if len(examples) == 1 else "examples:"
    epilog = "\n".join([heading, *(f"  {e}" for e in examples)]) if examples else None
    return sub.add_parser(
        name,
        help=summary,
        description=text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _one_of(names: Sequence[str], default: str) -> str:
    return f"{default} (default) or one of: {', '.join(n for n in names if n != default)}"


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """--host, --port, --auth and --auth-file, as `labeler serve` and app.py take them."""
    p.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"address to listen on (default {LOOPBACK}: this machine only; 0.0.0.0 opens the "
        "images to the network, so add --auth)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"1 to {MAX_PORT} (default %(default)s)",
    )
    p.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help="require a login (repeat for more users); the user is recorded as annotator",
    )
    p.add_argument("--auth-file", metavar="FILE", help="logins, one user:password a line")


def build_parser() -> argparse.ArgumentParser:
    from labeler.active import available_strategies
    from labeler.autolabel import DEFAULT_TARGET_PRECISION
    from labeler.bench.__main__ import add_arguments as add_bench_arguments
    from labeler.heads import DEFAULT_METHOD, available_heads

    parser = _Parser(
        prog="labeler",
        description="Few-shot image labeling: label a few, auto-label the rest.",
        epilog="`labeler COMMAND --help` tells what a command takes, with an example.",
    )
    parser.add_argument("--version", action="version", version=f"labeler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(
        sub,
        "init",
        "create or update a project from a folder of images",
        details="Scans the folder recursively, embeds the images (only new ones on a rerun: "
        "vectors are cached by content) and indexes them. On an existing project, --images may "
        "be left out: the project's own images folder is scanned again.",
        examples=[
            "labeler init runs/cells --images /data/cells --device cuda --batch-size 128",
            "labeler init runs/cells          # rescan /data/cells for new images",
        ],
    )
    p.add_argument(
        "project",
        metavar="PROJECT",
        help="the project folder: created if new, updated if it exists",
    )
    p.add_argument(
        "--images",
        metavar="DIR",
        help="folder of images, scanned recursively; needed for a new project (an existing "
        "one rescans the folder it was made on)",
    )
    p.add_argument(
        "--backbone",
        default=None,
        metavar="NAME",
        help=f"network that embeds the images: {config.DEFAULT_BACKBONE} (default; works "
        "offline) or a timm model name",
    )
    p.add_argument(
        "--checkpoint", default=None, metavar="FILE", help="local weights file for --backbone"
    )
    p.add_argument(
        "--original-weights",
        action="store_true",
        help="embed with the weights the images were first embedded with again, undoing "
        "finetune and adapt (their vectors stay cached: nothing is embedded anew)",
    )
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=config.DEFAULT_BATCH_SIZE,
        metavar="N",
        help="images embedded at once (default %(default)s); lower it if memory runs out, raise "
        "it on a large GPU",
    )
    p.add_argument(
        "--image-size",
        type=_image_size,
        default=None,
        metavar="PX",
        help="network input side, {} to {} px (default: chosen from the images)".format(
            *config.IMAGE_SIZE_RANGE
        ),
    )

    p = _command(
        sub,
        "label",
        "import expert labels from a CSV with columns path,label",
        details="FILE has a header row naming a path and a label column (other columns are "
        "ignored); each path is relative to the project's images folder, or absolute inside it. "
        "Columns annotator and labeled_at, as in an export, are kept: who labeled each "
        "image and when (--annotator and now where empty). "
        "Cells may be separated by commas, semicolons or tabs; the file may be UTF-8, UTF-16 "
        "or Windows-1252 (read with a warning), and paths may use backslashes. All or "
        "nothing: a row that "
        "cannot be imported refuses the file; rows with a path and no label are skipped.",
        examples=[
            "labeler suggest runs/cells -n 20 > first.csv   # fill in its label column, then:",
            "labeler label runs/cells --csv first.csv --annotator ana",
        ],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument(
        "--csv",
        required=True,
        metavar="FILE",
        help="CSV with columns path,label (, ; or tab); - reads standard input",
    )
    p.add_argument(
        "--annotator",
        default="expert",
        metavar="NAME",
        help="name recorded with each label whose annotator cell is empty or absent (default "
        "%(default)s)",
    )

    p = _command(
        sub,
        "predict",
        "fit on the expert labels and predict every other image",
        details="Prints the method used, the confidence to auto-accept at, and the estimated "
        "accuracy of the auto-labels; `labeler export` writes the predictions.",
        examples=["labeler predict runs/cells", "labeler predict runs/cells --method protonet"],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=available_heads(),
        metavar="NAME",
        help="classifier head: " + _one_of(available_heads(), DEFAULT_METHOD),
    )
    p.add_argument(
        "--target-precision",
        type=_fraction,
        metavar="P",
        default=DEFAULT_TARGET_PRECISION,
        help="report the confidence to auto-accept at for this precision (default %(default)s)",
    )
    p.add_argument(
        "--conformal",
        type=_fraction,
        default=None,
        metavar="ALPHA",
        help="also export conformal prediction sets that miss the true class at most ALPHA of "
        "the time (e.g. 0.1)",
    )

    p = _command(
        sub,
        "suggest",
        "CSV of the images most worth labeling next",
        details="Written to stdout (redirect it to a file), header first: path, an empty label "
        "column to fill in for `labeler label`, why each was chosen, and the model's guess; "
        "most useful first. Works with zero labels.",
        examples=["labeler suggest runs/cells -n 20 > next.csv"],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("-n", type=_positive_int, required=True, metavar="N", help="images to suggest")
    p.add_argument(
        "--strategy",
        default="auto",
        choices=available_strategies(),
        metavar="NAME",
        help="how to choose: " + _one_of(available_strategies(), "auto"),
    )
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="random seed (default %(default)s): the same seed and labels give the same CSV",
    )

    p = _command(
        sub,
        "export",
        "CSV with one row per image",
        details="Columns path, label, source (human or auto), confidence, margin, method, "
        f"model, annotator, labeled_at, then more. Not inside the project folder but for its "
        f"{EXPORTS_DIR}/ folder. OUT - writes the CSV to stdout.",
        examples=[
            "labeler export runs/cells labels.csv",
            "labeler export runs/cells labels.csv --excel   # to open in Excel",
            "labeler export runs/cells - | head              # the CSV on stdout",
        ],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("out", type=_file_name, metavar="OUT.csv", help="file to write, or - for stdout")
    p.add_argument(
        "--excel",
        action="store_true",
        help="begin the file with a UTF-8 byte-order mark, so that Excel shows accented "
        "letters in paths and class names right (without it, Excel reads the file in the "
        "machine's code page); scripts reading the file should then use encoding utf-8-sig",
    )

    p = _command(
        sub,
        "export-embeddings",
        "the vectors the heads use, as .npz",
        details="Arrays `paths` (N,) and `embeddings` (N, D) float32. A file only: binary, "
        "it cannot go to stdout (-).",
        examples=["labeler export-embeddings runs/cells vectors.npz"],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("out", type=_file_name, metavar="OUT.npz", help="file to write")

    p = _command(sub, "status", "counts, classes and skipped files of a project")
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)

    p = _command(sub, "curve", "estimated accuracy of the auto-labels against labels")
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)

    p = _command(
        sub,
        "class",
        "rename, merge or delete a class",
        details="rename OLD NEW keeps the labels under the new name; merge SOURCE TARGET moves "
        "SOURCE's labels to TARGET; delete NAME removes the class and unlabels its images. The "
        "label history keeps every change.",
        examples=[
            "labeler class runs/cells rename 'lymfocyte' 'lymphocyte'",
            "labeler class runs/cells merge 'blast?' blast",
            "labeler class runs/cells delete artefact",
            f"{CLASS_DASHED_EXAMPLE}   # a name that begins with '-' goes after --",
        ],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("action", choices=CLASS_ACTIONS, help="what to do: " + ", ".join(CLASS_ACTIONS))
    p.add_argument("names", nargs="+", metavar="NAME", help="the class, then the new one")
    p.add_argument(
        "--annotator",
        default="expert",
        metavar="NAME",
        help="name recorded in the label history (default %(default)s)",
    )

    p = _command(
        sub,
        "finetune",
        "fine-tune the backbone on the expert labels and re-embed every image",
        examples=["labeler finetune runs/cells --minutes 10 --device cuda"],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps (50)")
    p.add_argument("--minutes", type=_minutes, default=None, help="stop after this long")
    p.add_argument(
        "--blocks",
        type=_blocks,
        default=None,
        help="last blocks trained (1), at most as many as the backbone has; 0 for only the "
        f"layers after them, {config.ALL_BLOCKS} for all",
    )
    p.add_argument(
        "--from-original",
        action="store_true",
        help="start from the weights the images were first embedded with, not from those "
        "fine-tuned or adapted since (the default: each run goes on from the last)",
    )
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)

    p = _command(
        sub,
        "adapt",
        "re-estimate the backbone's last batch-norm statistics on the project's images "
        "(no labels needed) and re-embed every image",
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    p.add_argument(
        "--sample", type=_positive_int, default=None, help="images to estimate from (2000)"
    )
    p.add_argument("--layers", type=_positive_int, default=None, help="last layers adapted (4)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=DEVICE_HELP)

    p = _command(
        sub,
        "bench",
        "few-shot benchmark of the heads against the peers; with --active, the active-learning "
        "simulation",
        details="It prints a table per data set and shots (accuracy with its 95% interval, ECE, "
        "precision and coverage at the auto-accept thresholds, time) and writes the per-task "
        "CSV and a plot of accuracy against shots to --out.",
        examples=[
            "labeler bench                                   # everything, 10 seeds (minutes)",
            "labeler bench --datasets fmnist-balanced --shots 1 5 --methods auto --peers",
            "labeler bench --active --seeds 3 --strategies auto,random",
        ],
    )
    add_bench_arguments(p)

    p = _command(
        sub,
        "serve",
        "the browser UI on a project",
        examples=[
            "labeler serve runs/cells                 # http://127.0.0.1:7860, this machine only",
            "labeler serve runs/cells --host 0.0.0.0 --auth ana:secret --auth bob:pass",
        ],
    )
    p.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    add_serve_arguments(p)
    return parser
