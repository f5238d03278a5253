"""``--tree FILE``: the invitation tree as CSV (UTF-8 with BOM, for Excel) or JSON, written atomically.

Columns / keys: ``person``, ``inviter`` (empty / null in generation 0), ``generation``, ``first_ts``.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from pathlib import Path

from sopflow.analytics.referral.aggregate import ReferralResult
from sopflow.errors import InvalidInput
from sopflow.i18n import _

TREE_COLUMNS = ("person", "inviter", "generation", "first_ts")


def check_tree_path(path: Path) -> Path:
    """The resolved path, refused early (before any work) when its suffix is neither .csv nor .json."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise InvalidInput(_("--tree {path}: the file name must end in .csv or .json", path=str(path)))
    return path.expanduser().resolve()


def write_tree(path: Path, result: ReferralResult) -> int:
    """Write the tree; returns the number of rows. Nothing is left half-written on failure."""
    path = check_tree_path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(result.tree_json(), fh, ensure_ascii=False, indent=2)
        else:
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(TREE_COLUMNS)
                for row in result.tree:
                    out.writerow([row.person, row.inviter or "", row.generation, row.first_ts or ""])
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(
            _("cannot write {path}: {reason}", path=str(path), reason=exc.strerror or exc)
        ) from None
    return len(result.tree)
