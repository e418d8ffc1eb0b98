from labeler.cli import entry

raise SystemExit(entry())
