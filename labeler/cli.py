"""The command line (see DESIGN.md for the contract): running the commands and printing what they
did; the work is done by `labeler.project.Project`, the arguments are `labeler.cliargs`'.

Errors the user can act on print one sentence on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labeler.cliargs import CLASS_ACTIONS, LOOPBACK, MAX_PORT, build_parser
from labeler.errors import Interrupted, LabelerError, interrupted_says, os_reason
from labeler.wording import (
    cleared_reason,
    images_folder_gone,
    line_numbers,
    multi_frame,
    plural,
    printable,
    reheadered,
    same_content,
    shell,
)

if TYPE_CHECKING:
    from labeler.project import InitReport, Project

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a reader that stopped early
STDOUT = "-"  # as OUT of `labeler export`: the CSV goes to stdout
LISTED = 10  # files, labels or lines listed on the terminal, then "… and N more"
# Ctrl-C while init scans and embeds: the vectors made are cached, and init again goes on (once
# it is done, a Ctrl-C while its summary prints is a plain "interrupted").
EMBEDDED_KEPT = "(the images embedded so far are kept: run it again to go on)"
CURVE_BAR_WIDTH = 40  # characters of `labeler curve`'s bar at accuracy 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # stdout's reader stopped early (`| head`): that is no error
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except LabelerError as e:
        print(f"labeler: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        if e.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        print(f"labeler: error: {_os_error(e)}", file=sys.stderr)
        return EXIT_ERROR
    except Interrupted as e:
        print(f"labeler: interrupted {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # after the work (while printing) or before any was saved
        print("labeler: interrupted", file=sys.stderr)
        return 130


def entry() -> int:
    """The `labeler` command: `main`, then Ctrl-C ignored while Python shuts down (worker
    threads joined, files closed). The command has answered by then; a Ctrl-C there printed a
    traceback under its summary."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def _reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).lower()


def _silence_stdout() -> None:
    """Point stdout at the null device, so that Python's flush at exit does not fail on the
    closed pipe again (the way the Python docs' "Note on SIGPIPE" describes)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured): nothing is flushed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


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
    from labeler.project import Project

    _check_device(args.device)
    options = _options(
        args, "backbone", "checkpoint", "device", "batch_size", "image_size", "original_weights"
    )
    if args.images is None:  # an existing project: rescan its own folder
        with _open(args) as project:
            print(f"rescanning {project.images_root}, the images folder of {args.project}")
            with interrupted_says(EMBEDDED_KEPT):
                report = project.update(project.images_root, **options)
            _print_init(project, report)
    else:
        with interrupted_says(EMBEDDED_KEPT):
            project, report = Project.init(args.project, images=args.images, **options)
        with project:
            _print_init(project, report)
    return 0


def _print_init(project: Project, r: InitReport) -> None:
    """What `init` did: the counts, warnings of images gone or replaced, the new images with
    more than one frame, the files skipped."""
    from labeler.project import SKIPPED_NAME

    s, root = r.sync, project.images_root
    print(
        f"{plural(r.images, 'image')} in {project.path} ({s.added} new, {s.renamed} renamed, "
        f"{s.changed} changed, {s.missing} gone{f', {s.back} back' if s.back else ''}); "
        f"embedded {r.embedded} with {project.model_key}{same_content(r.same_content)}"
    )
    if s.reheadered:
        print(reheadered(s.reheadered))
    if r.moved_from and r.images:  # with none, `_no_images` says where they were
        print(
            f"warning: this project's images were in {r.moved_from}; now scanning {root} "
            "(labels of images not found there are kept, and come back when you run "
            f"`labeler init {shell(project.path)} --images {shell(r.moved_from)}` again)",
            file=sys.stderr,
        )
    if not r.images:
        print(f"warning: {_no_images(project, r)}", file=sys.stderr)
    if s.cleared:
        n = len(s.cleared)
        print(
            f"warning: removed {plural(n, 'label')}: {cleared_reason(n)} (listed in "
            f"{r.cleared_file}; if the images are in fact the same, `labeler "
            f"label {shell(project.path)} --csv {shell(r.cleared_file)}` puts them back)",
            file=sys.stderr,
        )
    if r.multi_frame:
        print(multi_frame(len(r.multi_frame)))
        _print_listed([f"{path}: {plural(n, 'frame')}" for path, n in r.multi_frame])
    if r.skipped:
        print(
            f"skipped {plural(len(r.skipped), 'file')} (all listed in "
            f"{project.path / SKIPPED_NAME}):"
        )
        _print_listed([f"{path}: {reason}" for path, reason in r.skipped])


def _no_images(project: Project, r: InitReport) -> str:
    """What `init` says of a scan that found no image: where to find them, the way back."""
    root = project.images_root
    if r.moved_from:  # a folder given by mistake, or not mounted: the way back is the old one
        return (
            f"no images found in {root}; this project's images were in {r.moved_from}: their "
            f"labels are kept, and come back when you run `labeler init {shell(project.path)} "
            f"--images {shell(r.moved_from)}`"
        )
    if project.store.gone_paths():
        return (
            f"every image is gone from {root} (an unmounted drive?); their labels are kept and "
            "come back when the images do: run init again then"
        )
    return f"no images found in {root}; pass --images with the folder that holds them"


def _print_listed(lines: Sequence[str], *, file=None) -> None:
    """The first LISTED of `lines`, indented, then how many more there are (on stdout, or
    `file`); each on one line, whatever a file name in it holds (`printable`)."""
    for line in lines[:LISTED]:
        print(f"  {printable(line)}", file=file)
    if len(lines) > LISTED:
        print(f"  … and {len(lines) - LISTED} more", file=file)


def _check_device(device: str) -> None:
    """Refuse a --device that torch cannot see before any work (a scan can take minutes).
    `auto` and `cpu` always resolve: torch, a second to import, is not asked (a rescan with
    nothing new to embed never needs it)."""
    if device in ("auto", "cpu"):
        return
    from labeler.embed import resolve_device

    resolve_device(device)


def cmd_label(args: argparse.Namespace) -> int:
    from labeler.labelcsv import encoding_note, file_name

    with _open(args) as project:
        report = project.import_labels(args.csv, annotator=args.annotator)
        print(
            f"{plural(report.changed, 'label')} set; {plural(report.labeled, 'image')} labeled "
            "in all"
        )
        if not (report.rows or report.unlabeled):
            print(
                f"warning: {file_name(args.csv)} has no rows below its header: nothing to import",
                file=sys.stderr,
            )
        if report.disagreeing_copies:
            n = len(report.disagreeing_copies)
            print(
                f"warning: {plural(n, 'pair')} of labeled images hold the same content, byte for "
                "byte, under two labels (one of each pair is wrong; relabel it with `labeler "
                "label`):",
                file=sys.stderr,
            )
            _print_listed(
                [f"{p} is {a!r}, {q} is {b!r}" for p, a, q, b in report.disagreeing_copies],
                file=sys.stderr,
            )
        if report.gone:
            print(
                f"{plural(report.gone, 'of these labels is', 'of these labels are')} of images "
                f"gone from {project.images_root}: kept, and back with the images (`labeler "
                f"init {shell(args.project)}` once they are)"
            )
        if report.new_classes:
            new = report.new_classes
            print(f"{plural(len(new), 'new class', 'new classes')}: {', '.join(map(repr, new))}")
        note = encoding_note(report.encoding)
        if note:
            print(f"warning: {file_name(args.csv)} was {note}", file=sys.stderr)
        if report.kept_annotator or report.kept_time:
            rest = report.rows - min(report.kept_annotator, report.kept_time)
            print(
                f"kept from the file: the annotator of {plural(report.kept_annotator, 'row')} and "
                f"the labeled_at time of {report.kept_time}"
                + (
                    f"; other rows are recorded as {args.annotator!r}, at the time of this import"
                    if rest
                    else ""
                )
            )
        if report.unread_times:
            print(
                f"warning: labeled_at is not an ISO 8601 time (such as 2026-11-24T07:04:37Z) on "
                f"{line_numbers(report.unread_times, LISTED)}: those labels carry the time of "
                "this import",
                file=sys.stderr,
            )
        if report.replaced:
            print(f"replaced {plural(len(report.replaced), 'earlier label')}:")
            _print_listed(
                [
                    f"{path} was {old!r} ({who}), now {new!r}"
                    for path, old, who, new in report.replaced
                ]
            )
        if report.unchanged:
            print(f"{plural(report.unchanged, 'image')} already had the label given: unchanged")
        if report.unlabeled:
            print(
                f"skipped {plural(len(report.unlabeled), 'row')} with a path but no label "
                f"({line_numbers(report.unlabeled, LISTED)}); fill in their labels and import "
                "again to label them"
            )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    with _open(args) as project:
        r = project.predict(
            **_options(args, "method", "target_precision", conformal_alpha="conformal")
        )
        print(
            f"predicted {plural(r.predicted, 'image')} with {r.method} on {r.model} from "
            f"{plural(r.labeled, 'label')} in {plural(len(r.classes), 'class', 'classes')} "
            f"(temperature {r.temperature:.3g})"
        )
        if r.choice != r.method:  # auto says what it blended; other heads, their method
            print(f"chose {r.choice}")
        if not r.predicted:
            print(
                "every image has a label: nothing was left to predict, so there is no threshold, "
                "flag or accuracy estimate of auto-labels; new images come in with `labeler init "
                f"{shell(args.project)}`"
            )
            return 0
        if r.threshold <= 1.0:
            print(
                f"auto-accept at confidence >= {r.threshold:.3f} for {r.target_precision:.0%} "
                f"precision: about {r.coverage:.0%} of the in-distribution images"
            )
        elif len(r.uncalibrated) == len(r.classes):
            print("no auto-accept threshold: with one label a class, confidences aren't calibrated")
        else:
            print(f"no confidence threshold reaches {r.target_precision:.0%} precision yet")
        if r.ood_short:
            print(
                f"images that fit no class: none can be flagged yet; "
                f"{plural(r.ood_short, 'more label')} {'is' if r.ood_short == 1 else 'are'} needed"
            )
        else:
            fit = "fits" if r.ood == 1 else "fit"
            print(f"{plural(r.ood, 'image')} {fit} no class (column ood in the export)")
        if r.set_size is not None:
            print(
                f"prediction sets hold {r.set_size:.1f} of the {len(r.classes)} classes on "
                "average (column prediction_set)"
            )
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
    _check_device(args.device)
    with _open(args) as project:
        init, r = project.finetune(
            **_options(args, "steps", "minutes", "blocks", "device", "from_original")
        )
        print(
            f"fine-tuned {plural(r.trained_parameters, 'parameter')} for "
            f"{plural(r.steps, 'step')} in {r.seconds:.0f} s on {r.device}"
            f"{' (mixed precision)' if r.mixed_precision else ''}: training loss "
            f"{r.first_loss:.3f} -> {r.last_loss:.3f}; re-embedded "
            f"{plural(init.embedded, 'image')} with {project.model_key}"
            f"{same_content(init.same_content)}"
        )
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    _check_device(args.device)
    with _open(args) as project:
        before = project.model_key
        init = project.adapt(**_options(args, "sample", "layers", "device"))
        print(
            f"adapted {before} to the project's images: re-embedded "
            f"{plural(init.embedded, 'image')} with {project.model_key}"
            f"{same_content(init.same_content)}"
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
        status = project.status() if len(rows) < args.n else None  # only to say why
    _utf8_stdout()
    write_rows(sys.stdout, rows, columns=SUGGEST_COLUMNS, lineterminator="\n")
    if status is not None:
        unlabeled = status["images"] - status["labeled"]
        why = (
            "that is every unlabeled image"
            if len(rows) >= unlabeled
            else f"the other {plural(unlabeled - len(rows), 'unlabeled image')} are near-copies "
            "of these, or in the groups of similar images these come from (one each); label "
            "these and ask again"
        )
        print(f"note: {len(rows)} of the {args.n} asked: {why}", file=sys.stderr)
    return 0


def _utf8_stdout() -> None:
    """CSV on stdout in UTF-8, as a file would be, whatever the locale's encoding (Windows
    redirects in its code page, which cannot write every path or class name)."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


def _export(args: argparse.Namespace, what: str, write: Callable[[Project, str], int]) -> int:
    """`write(project, args.out)` → the count of `what` written."""
    with _open(args) as project:
        n = write(project, args.out)
    sys.stdout.flush()  # a reader that stopped early shows here, before "wrote" is said
    where = "stdout" if args.out == STDOUT else args.out
    print(f"wrote {plural(n, what)} to {where}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    def write(project: Project, out: str) -> int:
        if out == STDOUT:  # lines ending as suggest's do
            _utf8_stdout()
            n = project.write_export(sys.stdout, excel=args.excel, lineterminator="\n")
        else:
            n = project.export_csv(out, excel=args.excel)
        for note in project.export_notes():
            print(f"warning: {note}", file=sys.stderr)
        return n

    return _export(args, "row", write)


def cmd_export_embeddings(args: argparse.Namespace) -> int:
    if args.out == STDOUT:
        raise LabelerError(
            "export-embeddings writes a binary .npz file, which cannot go to stdout; give a "
            "file name (./- for a file named '-')"
        )
    return _export(args, "embedding", lambda project, out: project.export_embeddings(out))


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as project:
        status = project.status()
    for key, value in status.items():
        if key == "classes":
            print(f"classes: {len(value)}")
            for name, n in value.items():  # one a line: names may hold commas
                print(f"  {name}: {plural(n, 'label')}")
        elif key == "gone_labeled" and value:
            print(
                f"{key}: {value} (their images are not in {status['images_root']}; the labels are "
                "kept and come back with the images: `labeler init "
                f"{shell(args.project)}` once they are back, or `--images FOLDER` with the folder "
                "that holds them)"
            )
        elif key == "images_root" and not Path(value).is_dir():
            print(f"{key}: {value} (not found: {images_folder_gone(args.project)})")
        else:
            print(f"{key}: {len(value) if key == 'skipped' else value}")
    for path, reason in status["skipped"]:
        print(f"  skipped {path}: {reason}")
    return 0


def cmd_curve(args: argparse.Namespace) -> int:
    from labeler.reports import EVERY_IMAGE_LABELED

    with _open(args) as project:
        curve = project.learning_curve()
        if not curve:
            print(
                f"no estimate: {EVERY_IMAGE_LABELED}"
                if project.every_image_labeled()
                else "no estimate yet: label two images in each of two classes first"
            )
            return 0
    print("labels  estimated accuracy  95% interval")
    for n, acc, low, high in curve:
        bar = "#" * round(CURVE_BAR_WIDTH * acc)
        print(f"{n:6d}  {acc:18.2f}  {low:.2f}-{high:.2f}  {bar}")
    return 0


def cmd_class(args: argparse.Namespace) -> int:
    wanted = CLASS_ACTIONS[args.action]
    if len(args.names) != wanted:
        raise LabelerError(
            f"`labeler class {args.action}` takes {plural(wanted, 'class name')}, got "
            f"{len(args.names)}: {args.names}; quote names with spaces"
        )
    from labeler.store.annotator import check_annotator

    check_annotator(args.annotator)  # an expert's name: never that of accepted predictions
    with _open(args) as project:
        bench = project.workbench()
        edit = {
            "rename": bench.rename_class,
            "merge": bench.merge_classes,
            "delete": bench.delete_class,
        }[args.action](*args.names, annotator=args.annotator)
        saved = project.save_labels_before(edit)
        stale = project.stale_predictions()
    print(edit.description)
    if edit.renamed is not None:
        dashes = "-- " if any(name.startswith("-") for name in edit.renamed) else ""
        new, old = map(shell, edit.renamed[::-1])
        print(f"to undo: labeler class {shell(args.project)} rename {dashes}{new} {old}")
    elif saved is not None:
        print(
            f"the labels as they were are in {saved}; to undo: labeler label "
            f"{shell(args.project)} --csv {shell(saved)}"
        )
    if stale:
        print(f"note: {stale}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from labeler.ui import serve

    accounts = check_serve(args)
    with _open(args) as project:
        serve(project, host=args.host, port=args.port, auth=accounts)
    return 0


def check_serve(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """Before `serve` (and app.py) starts: the logins of --auth and --auth-file, a refusal of a
    host or port that cannot be served on, and a warning when the images are open to the
    network with no login."""
    from labeler.ui.auth import load_accounts

    accounts = load_accounts(args.auth, args.auth_file)
    local = check_address(args.host, args.port)
    if not local and not accounts:
        print(
            f"warning: serving on {args.host} with no login: anyone on the network who can reach "
            "this machine can see the images (patient data) and change the labels; add --auth "
            "USER:PASSWORD (or --auth-file FILE) to require a login, or serve on --host "
            f"{LOOPBACK} for this machine only",
            file=sys.stderr,
        )
    return accounts


def _cannot_serve(host: str, port: int, e: OSError) -> LabelerError:
    return LabelerError(
        f"cannot serve on {host} port {port}: {os_reason(e)}; pass --host with an address of "
        f"this machine and --port N from 1024 to {MAX_PORT}"
    )


def check_address(host: str, port: int) -> bool:
    """Refuse (LabelerError) a host that is no address of this machine, or a port already in use
    there, by binding it as the server will (and letting it go); True when every address of
    `host` is a loopback one: the page is reachable from this machine only."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise LabelerError(
            f"cannot serve on host {host!r}: it is no known address ({_reason(e)}); pass --host "
            f"with an address of this machine: {LOOPBACK} for it alone, 0.0.0.0 for every network"
        ) from None
    addresses = list(dict.fromkeys(addresses))
    unavailable = []  # of a family this machine lacks (no IPv6): skipped, as asyncio does
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            if os.name != "nt":  # as uvicorn binds: a port left in TIME_WAIT is free
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise LabelerError(
                        f"port {port} is in use on {host}; pass --port N with a free port"
                    ) from None
                if e.errno != errno.EADDRNOTAVAIL:
                    raise _cannot_serve(host, port, e) from None
                unavailable.append(e)
    if len(unavailable) == len(addresses):
        raise _cannot_serve(host, port, unavailable[0])
    return all(ipaddress.ip_address(a[4][0].split("%")[0]).is_loopback for a in addresses)


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
    "class": cmd_class,
    "serve": cmd_serve,
}
