"""Label and class edits that can be undone.

Every edit is written to the store at once (one transaction) and returns an `Edit` recording what
it replaced, so a session can undo its last action even after other sessions labeled meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from labeler.classnames import check_class_name, check_new_class_names
from labeler.errors import LabelerError
from labeler.store import Store
from labeler.store.annotator import is_accepted
from labeler.wording import plural


@dataclass(frozen=True)
class Edit:
    """What one action changed.

    previous: (item_id, label before, label after; None for none) for every item whose label it
        touched. Undo restores `before` only where the label is still `after`: a label another
        session set meanwhile is kept.
    renamed: (old, new) class name for a rename.
    created: the classes the edit created, to remove again on undo where still unused.
    retired: a class the edit deleted or merged away, to bring back on undo.
    accepted: items whose label before was a prediction accepted in bulk: undo puts it back as
        one (never as a hand label, which the heads would train on).
    given: (item_id, annotator, labeled at) of each label before that was there: undo gives it
        back in that name and with that time (the history records who undid, and when).
    """

    description: str
    previous: tuple[tuple[int, str | None, str | None], ...] = ()
    renamed: tuple[str, str] | None = None
    created: tuple[str, ...] = ()
    retired: str | None = None
    accepted: frozenset[int] = frozenset()
    given: tuple[tuple[int, str, str], ...] = ()

    @property
    def changed(self) -> bool:
        """False for an edit that found everything as asked already (a repeated click): there
        is nothing to undo."""
        return bool(self.previous or self.renamed or self.created or self.retired)


def assign(
    store: Store, changes: Sequence[tuple[int, str]], *, annotator: str, description: str = ""
) -> Edit:
    """Label items, as (item_id, class name), in one transaction."""
    if not changes:
        raise LabelerError("no images selected; click images in the grid first")
    classes = store.classes()
    spelt = check_new_class_names({name for _, name in changes}, classes)
    asked = [(i, spelt[name]) for i, name in changes]
    records = store.label_records_of([i for i, _ in asked])
    had = {i: (label, who) for i, (label, who, _) in records.items()}
    before = {i: label for i, (label, _) in had.items()}
    changes = [(i, name) for i, name in asked if had.get(i) != (name, annotator)]  # a repeat: none
    names = sorted({name for _, name in asked})
    shown = names[0] if len(names) == 1 else f"{len(names)} classes"
    if not changes:
        return Edit(description=f"{plural(len(asked), 'image')} already labeled {shown}")
    new = tuple(name for name in names if name not in classes)
    store.apply_labels(changes, annotator=annotator)
    replaced = Counter(before[i] for i, name in changes if before.get(i) not in (None, name))
    return Edit(
        description=description
        or f"labeled {plural(len(changes), 'image')} as {shown}{_replaced_note(replaced)}",
        previous=tuple((i, before.get(i), name) for i, name in changes),
        created=new,
        accepted=frozenset(i for i, _ in changes if i in had and is_accepted(had[i][1])),
        given=tuple((i, *records[i][1:]) for i, _ in changes if i in records),
    )


def _replaced_note(replaced: Counter[str]) -> str:
    """The end of an assignment's description that says which labels it replaced, as `; 3 had
    another label (cat 2, bag 1), now replaced`, or nothing: relabeling a selection that holds
    labeled images (Ctrl+A on a page) says so."""
    n = replaced.total()
    if not n:
        return ""
    was = ", ".join(
        label if len(replaced) == 1 else f"{label} {count}"
        for label, count in replaced.most_common()
    )
    return f"; {n} had another label ({was}), now replaced"


def create_class(store: Store, name: str) -> Edit:
    name = check_new_class_names([name], store.classes())[name]
    if name in store.classes():
        raise LabelerError(f"class {name!r} exists already")
    store.add_class(name)
    return Edit(description=f"created class {name}", created=(name,))


def rename_class(store: Store, old: str, new: str, *, annotator: str) -> Edit:
    """Rename `old` to `new`; onto the name of a deleted class, this revives it (a merge)."""
    classes = store.classes()
    _check_existing(old, classes, "rename")
    new = check_new_class_names([new], [c for c in classes if c != old])[new]
    if new == old:
        raise LabelerError(
            f"the old and new names are the same ({old!r}): nothing was changed; to rename the "
            "class, give a new name that differs from it"
        )
    if new in classes:
        raise LabelerError(f"a class named {new!r} exists already; merge {old!r} into it instead")
    try:
        store.rename_class(old, new)
    except LabelerError:  # the name belongs to a deleted class: move the labels into it
        return _merge(store, old, new, annotator=annotator)
    return Edit(description=f"renamed class {old} to {new}", renamed=(old, new))


def merge_classes(store: Store, source: str, target: str, *, annotator: str) -> Edit:
    """Move the labels of class `source` into the existing class `target`; `source` goes."""
    classes = store.classes()
    _check_existing(source, classes, "merge")
    target = check_class_name(target)
    if target not in classes:
        check_new_class_names([target], classes)  # a look-alike of a class: says which to use
        raise LabelerError(
            f"there is no class {target!r} to merge {source!r} into; merge into one of "
            f"{', '.join(map(repr, classes))}, or rename {source!r} to give it a new name"
        )
    return _merge(store, source, target, annotator=annotator)


def _merge(store: Store, source: str, target: str, *, annotator: str) -> Edit:
    items, accepted = store.retire_class(source, annotator=annotator, into=target)
    return Edit(
        description=f"merged class {source} into {target} ({plural(len(items), 'image')})",
        previous=tuple((i, source, target) for i in items),
        retired=source,
        accepted=frozenset(accepted),
        given=tuple((i, *given) for i, given in items.items()),
    )


def delete_class(store: Store, name: str, *, annotator: str) -> Edit:
    _check_existing(name, store.classes(), "delete")
    items, accepted = store.retire_class(name, annotator=annotator)
    return Edit(
        description=f"deleted class {name} ({plural(len(items), 'image')} unlabeled)",
        previous=tuple((i, name, None) for i in items),
        retired=name,
        accepted=frozenset(accepted),
        given=tuple((i, *given) for i, given in items.items()),
    )


def _check_existing(name: str, classes: Sequence[str], doing: str) -> None:
    """Refuse a class edit (`doing` it) of `name` when no class in use has that name, saying
    which one the user may have meant (the same name in other case) and which there are."""
    if name in classes:
        return
    meant = [c for c in classes if c.casefold() == name.casefold()]
    hint = f" (did you mean {meant[0]!r}?)" if meant else ""
    listed = f"the classes are {', '.join(map(repr, classes))}" if classes else "there are none"
    raise LabelerError(f"there is no class {name!r} to {doing}{hint}; {listed}")


def undo(store: Store, edit: Edit, *, annotator: str) -> str:
    """Revert `edit`; returns a sentence saying what was undone (and what was kept)."""
    if edit.renamed is not None:
        old, new = edit.renamed
        store.rename_class(new, old)
    if edit.retired is not None:
        store.add_class(edit.retired)  # brought back even when it had no labels
    notes = []
    if edit.previous:
        now = store.labels_of([i for i, _, _ in edit.previous])
        revert = [(i, before) for i, before, after in edit.previous if now.get(i) == after]
        given = {i: (who, at) for i, who, at in edit.given}
        store.apply_labels(revert, annotator=annotator, accepted=edit.accepted, given=given)
        if len(revert) < len(edit.previous):
            relabeled = plural(len(edit.previous) - len(revert), "image")
            notes.append(f"kept {relabeled} relabeled since by another session")
    used = {lab.label for lab in store.labels()} if edit.created else set()
    for name in (c for c in edit.created if c in store.classes()):
        if name in used:
            notes.append(f"kept class {name}: images were labeled with it since")
        else:
            store.retire_class(name, annotator=annotator)  # unused: nothing to keep
    return "; ".join([f"undid: {edit.description}", *notes])
