"""Login accounts for `labeler serve --auth user:password` and `--auth-file FILE`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labeler.errors import LabelerError
from labeler.store.annotator import check_annotator


def parse_account(text: str, *, where: str = "--auth") -> tuple[str, str]:
    """'user:password' -> (user, password); the password may itself contain ':'."""
    user, sep, password = text.partition(":")
    user = user.strip()
    if not sep or not user or not password:
        raise LabelerError(f"{where} expects user:password with both parts non-empty")
    try:
        check_annotator(user)  # the login name is the annotator of every label made with it
    except LabelerError as e:
        raise LabelerError(f"{where}: {e}") from None
    return user, password


def load_accounts(
    pairs: Sequence[str] = (), file: Path | str | None = None
) -> list[tuple[str, str]] | None:
    """Accounts from --auth values and an --auth-file (one user:password a line; blank lines and
    lines starting with # are ignored). None when neither is given: the server has no login."""
    accounts = [parse_account(p) for p in pairs]
    if file is not None:
        path = Path(file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise LabelerError(f"cannot read the --auth-file {path}: {e.strerror}") from e
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if line and not line.startswith("#"):
                accounts.append(parse_account(line, where=f"{path} line {number}"))
        if not accounts:
            raise LabelerError(f"the --auth-file {path} holds no user:password line")
    users = [u for u, _ in accounts]
    if len(set(users)) != len(users):
        raise LabelerError("a user is given twice in --auth / --auth-file; give each user once")
    return accounts or None
