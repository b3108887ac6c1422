"""The audit entries of an import (DESIGN.md invariant 4): one per attempt that could change data.

`import.chat` is written in the import's own transaction, with the counts per table, the file's
name, size and sha256, and which users were renamed and which conversations retitled.
`import.refused` says why an import changed nothing (an invalid file, an actor who may not
import); `import.failed` is written after the rollback of one that broke off (the file changed
between the passes, the database refused a row). A dry run changes nothing and writes nothing.

Entries name users and conversations by external id only, never their names or titles: the
audit log is append-only, so chat data copied into it could not be removed by a later erasure.
Without a staff account (`--actor`), an import is the operator's: actor none, role "cli", and the
operating-system account and host it ran under in `run_by`, as for every entry.
"""

import getpass
import os
import socket

from chatdata.audit import write_audit
from chatdata.importer.plan import TABLES

EXAMPLES = 5  # ids listed per kind of change; the count says how many there were
ERRORS_KEPT = 20  # as many as the command prints


def run_by():
    """Who ran the import on this machine: "user@host"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def printable(text):
    """Text as it can be stored and printed: lone surrogates (from undecodable file names) and NUL escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


class Origin:
    """Who imports what: the same for every entry of one attempt."""

    def __init__(self, actor, source, run_by):
        self.actor, self.source, self.run_by = actor, printable(source), run_by

    def write(self, action, *, reason="", scope=None, counts=None, plan=None):
        scope = {"file": self.source, **(scope or {}), "run_by": self.run_by}
        if plan is not None and plan.digest is not None:
            scope.update(sha256=plan.digest, bytes=plan.size)
        return write_audit(
            action,
            actor=self.actor,
            role=None if self.actor is not None else "cli",
            target=f"file {os.path.basename(self.source) or self.source}",
            scope=scope,
            counts=counts,
            reason=printable(reason),
        )


def _examples(ids):
    return {"count": len(ids), "examples": ids[:EXAMPLES]}


def write_imported(origin, plan, tallies):
    # The same comparisons as writer._write_users and _write_conversations.
    renamed = [r.id for r in plan.users.values() if r.id in plan.db_users and plan.db_users[r.id].name != r.name]
    retitled = [
        r.id for r in plan.conversations.values()
        if r.id in plan.db_conversations and plan.db_conversations[r.id].title != r.title
    ]
    counts = {}
    for table in TABLES:
        tally = tallies[table]
        counts[f"{table}_created"] = tally.created
        if table in ("users", "conversations"):  # the only rows an import may update
            counts[f"{table}_updated"] = tally.updated
        counts[f"{table}_unchanged"] = tally.unchanged
    scope = {
        "records": plan.records,
        "repeated_lines": len(plan.repeated_lines),
        "renamed_users": _examples(renamed),
        "retitled_conversations": _examples(retitled),
    }
    return origin.write("import.chat", scope=scope, counts=counts, plan=plan)


def refused_reason(errors):
    count = len(errors)
    line, text = errors[0]
    first = f"line {line}: {text}" if line else text
    return f"{count} error{'s' if count > 1 else ''}; nothing was imported. First: {first}"


def write_refused(origin, *, reason="", plan=None):
    """An import that changed nothing: the reason given, or the errors of the file's plan."""
    if plan is None:
        return origin.write("import.refused", reason=reason)
    errors = plan.sorted_errors()
    scope = {"errors": [{"line": line, "problem": printable(text)} for line, text in errors[:ERRORS_KEPT]]}
    return origin.write("import.refused", reason=refused_reason(errors), scope=scope, counts={"errors": len(errors)}, plan=plan)


def write_failed(origin, reason, *, plan=None):
    return origin.write("import.failed", reason=reason, plan=plan)
