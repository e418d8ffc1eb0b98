"""The command line (see DESIGN.md for the contract). Parsing and printing only: the work is done
by `labeler.project.Project`.

Errors the user can act on print one sentence on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from labeler import __version__, config
from labeler.errors import LabelerError, os_reason

if TYPE_CHECKING:
    from labeler.project import Project

EXIT_ERROR = 2
SKIPPED_SHOWN = 10  # bad files listed on the terminal after init; the rest are in skipped.csv
CURVE_BAR_WIDTH = 40  # characters of `labeler curve`'s bar at accuracy 1
ALL_BLOCKS = -1  # `finetune --blocks`: train the whole backbone


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _int_at_least(low: int):
    """An argparse type: a whole number of at least `low`."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a number of at least {low}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


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
    if value < ALL_BLOCKS:
        raise argparse.ArgumentTypeError(
            f"expected a number of blocks of at least 0, or {ALL_BLOCKS} for all of them, "
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


def build_parser() -> argparse.ArgumentParser:
    from labeler.active import available_strategies
    from labeler.autolabel import DEFAULT_TARGET_PRECISION
    from labeler.bench.__main__ import add_arguments as add_bench_arguments
    from labeler.heads import DEFAULT_METHOD, available_heads

    parser = argparse.ArgumentParser(
        prog="labeler", description="Few-shot image labeling: label a few, auto-label the rest."
    )
    parser.add_argument("--version", action="version", version=f"labeler {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create or update a project from a folder of images")
    p.add_argument("project")
    p.add_argument("--images", required=True, metavar="DIR", help="folder scanned recursively")
    p.add_argument("--backbone", default=None, help=f"default {config.DEFAULT_BACKBONE}")
    p.add_argument("--checkpoint", default=None, help="local weights file for --backbone")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--batch-size", type=_positive_int, default=config.DEFAULT_BATCH_SIZE)
    p.add_argument(
        "--image-size",
        type=_image_size,
        default=None,
        metavar="PX",
        help="network input side, {} to {} px".format(*config.IMAGE_SIZE_RANGE),
    )

    p = sub.add_parser("label", help="import expert labels from a CSV with columns path,label")
    p.add_argument("project")
    p.add_argument("--csv", required=True, metavar="FILE")
    p.add_argument("--annotator", default="expert")

    p = sub.add_parser("predict", help="fit on the expert labels and predict every other image")
    p.add_argument("project")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=available_heads())
    p.add_argument(
        "--target-precision",
        type=_fraction,
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

    p = sub.add_parser("suggest", help="CSV of the images most worth labeling next")
    p.add_argument("project")
    p.add_argument("-n", type=_positive_int, required=True)
    p.add_argument("--strategy", default="auto", choices=available_strategies())
    p.add_argument("--seed", type=_non_negative_int, default=0)

    p = sub.add_parser("export", help="CSV with one row per image")
    p.add_argument("project")
    p.add_argument("out", type=_file_name, metavar="OUT.csv")

    p = sub.add_parser("export-embeddings", help="the vectors the heads use, as .npz")
    p.add_argument("project")
    p.add_argument("out", type=_file_name, metavar="OUT.npz")

    p = sub.add_parser("status", help="counts, classes and skipped files of a project")
    p.add_argument("project")

    p = sub.add_parser("curve", help="estimated accuracy of the auto-labels against labels")
    p.add_argument("project")

    p = sub.add_parser(
        "finetune", help="fine-tune the backbone on the expert labels and re-embed every image"
    )
    p.add_argument("project")
    p.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps (50)")
    p.add_argument("--minutes", type=_minutes, default=None, help="stop after this long")
    p.add_argument(
        "--blocks",
        type=_blocks,
        default=None,
        help=f"last blocks trained (1); 0 for only the layers after them, {ALL_BLOCKS} for all",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])

    p = sub.add_parser(
        "adapt",
        help="re-estimate the backbone's last batch-norm statistics on the project's images "
        "(no labels needed) and re-embed every image",
    )
    p.add_argument("project")
    p.add_argument(
        "--sample", type=_positive_int, default=None, help="images to estimate from (2000)"
    )
    p.add_argument("--layers", type=_positive_int, default=None, help="last layers adapted (4)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])

    p = sub.add_parser(
        "bench",
        help="few-shot benchmark of the heads against the peers; with --active, the "
        "active-learning simulation",
    )
    add_bench_arguments(p)

    p = sub.add_parser("serve", help="the browser UI on a project")
    p.add_argument("project")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_positive_int, default=7860)
    p.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help="require a login (repeat for more users); the user is recorded as annotator",
    )
    p.add_argument("--auth-file", metavar="FILE", help="logins, one user:password a line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LabelerError as e:
        print(f"labeler: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        print(f"labeler: error: {_os_error(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("labeler: interrupted", file=sys.stderr)
        return 130


def _os_error(e: OSError) -> str:
    """One sentence for a file-system error that no command turned into a LabelerError."""
    return f"cannot use {e.filename}: {os_reason(e)}; check the path and its permissions"


def _open(args: argparse.Namespace):
    from labeler.project import Project

    return Project(args.project)


def _options(args: argparse.Namespace, *names: str, **renamed: str) -> dict[str, Any]:
    """Keyword arguments from parsed options: each of `names` under its own name, and each
    keyword of `renamed` from the option it names (conformal_alpha="conformal")."""
    return {name: getattr(args, name) for name in names} | {
        keyword: getattr(args, name) for keyword, name in renamed.items()
    }


def cmd_init(args: argparse.Namespace) -> int:
    from labeler.project import SKIPPED_NAME, Project

    project, r = Project.init(
        args.project,
        **_options(args, "images", "backbone", "checkpoint", "device", "batch_size", "image_size"),
    )
    with project:
        s = r.sync
        print(
            f"{r.images} images in {project.path} ({s.added} new, {s.renamed} renamed, "
            f"{s.changed} changed, {s.missing} gone); "
            f"embedded {r.embedded} with {project.model_key}"
        )
        if s.missing and not r.images:
            print(
                f"warning: every image is gone from {args.images} (an unmounted drive?); their "
                "labels are kept and come back when the images do: run init again then",
                file=sys.stderr,
            )
        if r.skipped:
            print(f"skipped {len(r.skipped)} files (all listed in {project.path / SKIPPED_NAME}):")
            for path, reason in r.skipped[:SKIPPED_SHOWN]:
                print(f"  {path}: {reason}")
            if len(r.skipped) > SKIPPED_SHOWN:
                print(f"  … and {len(r.skipped) - SKIPPED_SHOWN} more")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    with _open(args) as project:
        report = project.import_labels(args.csv, annotator=args.annotator)
        print(f"{report.changed} labels set; {len(project.store.labels())} images labeled in all")
        if report.unlabeled:
            print(
                f"skipped {len(report.unlabeled)} rows with a path but no label (lines "
                f"{_lines(report.unlabeled)}); fill in their labels and import again to label them"
            )
    return 0


def _lines(lines: list[int], *, shown: int = 10) -> str:
    """'3, 5, 9' or '3, 5, … (12 in all)': line numbers for a message."""
    text = ", ".join(map(str, lines[:shown]))
    return text if len(lines) <= shown else f"{text}, … ({len(lines)} in all)"


def cmd_predict(args: argparse.Namespace) -> int:
    with _open(args) as project:
        r = project.predict(
            **_options(args, "method", "target_precision", conformal_alpha="conformal")
        )
        print(
            f"predicted {r.predicted} images with {r.method} on {r.model} from {r.labeled} labels "
            f"in {len(r.classes)} classes (temperature {r.temperature:.3g})"
        )
        if r.choice != r.method:
            print(f"chose {r.choice}")
        if r.threshold <= 1.0:
            print(
                f"auto-accept at confidence >= {r.threshold:.3f} for {r.target_precision:.0%} "
                f"precision: about {r.coverage:.0%} of the in-distribution images"
            )
        elif len(r.uncalibrated) == len(r.classes):
            print("no auto-accept threshold: with one label a class, confidences aren't calibrated")
        else:
            print(f"no confidence threshold reaches {r.target_precision:.0%} precision yet")
        print(f"{r.ood} images fit no class (column ood in the export)")
        if r.uncalibrated:
            print(
                f"confidences are not calibrated for {', '.join(r.uncalibrated)}: one label "
                "each, nothing to check them on (too high or too low); label a second image of each"
            )
        if r.seen_by_backbone:
            print(
                f"the backbone was fine-tuned on {r.seen_by_backbone} of these {r.labeled} labels: "
                "the threshold, confidences and accuracy estimate are checked on labels it has "
                "seen, so they are optimistic; labels added since fine-tuning are not"
            )
        e = r.estimate
        if e is None:
            print(
                "estimated accuracy: not yet; it needs two labels in each of two classes, to "
                "check labels against a model fitted without them"
            )
        else:
            print(
                f"estimated accuracy of the auto-labels: {e.accuracy:.2f} (95% interval "
                f"{e.low:.2f}-{e.high:.2f}, from the {e.n_labels} expert labels)"
            )
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    with _open(args) as project:
        init, r = project.finetune(**_options(args, "steps", "minutes", "blocks", "device"))
        print(
            f"fine-tuned {r.trained_parameters} parameters for {r.steps} steps in "
            f"{r.seconds:.0f} s on {r.device}{' (mixed precision)' if r.mixed_precision else ''}: "
            f"training loss {r.first_loss:.3f} -> {r.last_loss:.3f}; re-embedded "
            f"{init.embedded} images with {project.model_key}"
        )
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    with _open(args) as project:
        before = project.model_key
        init = project.adapt(**_options(args, "sample", "layers", "device"))
        print(
            f"adapted {before} to the project's images: re-embedded {init.embedded} images with "
            f"{project.model_key}"
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from labeler.bench.__main__ import run

    return run(args)


# `label` is left empty for the expert to fill in; `labeler label` then reads the same file.
SUGGEST_COLUMNS = ("path", "label", "reason", "score", "predicted", "confidence")


def cmd_suggest(args: argparse.Namespace) -> int:
    from labeler.export import write_rows

    with _open(args) as project:
        rows = project.suggest(args.n, strategy=args.strategy, seed=args.seed)
    write_rows(sys.stdout, rows, columns=SUGGEST_COLUMNS, lineterminator="\n")
    return 0


def _export(args: argparse.Namespace, what: str, write: Callable[[Project, str], int]) -> int:
    """`write(project, args.out)` → the count of `what` written."""
    with _open(args) as project:
        n = write(project, args.out)
    print(f"wrote {n} {what} to {args.out}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    return _export(args, "rows", lambda project, out: project.export_csv(out))


def cmd_export_embeddings(args: argparse.Namespace) -> int:
    return _export(args, "embeddings", lambda project, out: project.export_embeddings(out))


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as project:
        for key, value in project.status().items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{key}: {shown}")
        for path, reason in project.store.skipped():
            print(f"  skipped {path}: {reason}")
    return 0


def cmd_curve(args: argparse.Namespace) -> int:
    with _open(args) as project:
        curve = project.learning_curve()
    if not curve:
        print("no estimate yet: label two images in each of two classes first")
        return 0
    print("labels  estimated accuracy  95% interval")
    for n, acc, low, high in curve:
        bar = "#" * round(CURVE_BAR_WIDTH * acc)
        print(f"{n:6d}  {acc:18.2f}  {low:.2f}-{high:.2f}  {bar}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from labeler.ui import serve
    from labeler.ui.auth import load_accounts

    accounts = load_accounts(args.auth, args.auth_file)
    with _open(args) as project:
        serve(project, host=args.host, port=args.port, auth=accounts)
    return 0


COMMANDS = {
    "init": cmd_init,
    "label": cmd_label,
    "predict": cmd_predict,
    "finetune": cmd_finetune,
    "adapt": cmd_adapt,
    "bench": cmd_bench,
    "suggest": cmd_suggest,
    "export": cmd_export,
    "export-embeddings": cmd_export_embeddings,
    "status": cmd_status,
    "curve": cmd_curve,
    "serve": cmd_serve,
}
