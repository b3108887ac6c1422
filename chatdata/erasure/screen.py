"""An import's screen against tombstones: erased data never comes back from an old export.

chatdata.importer asks it about every line it reads (pass one) and again while writing (pass
two). A line is erased when it would bring back something with a tombstone
(chatdata.erasure.tombstones):
- a user line whose id is an erased user's;
- a message line whose id is a message deleted for everyone, or whose sender is an erased user;
- inside other lines: a reaction by an erased user, a conversation listing an erased member (a
  conversation of erased members only is an erased line itself).
Without `skip` each is an error naming the line ("message 'm123' was erased on 2026-12-05
(tombstone); use --skip-erased to skip such lines") and the import writes nothing; with `skip`
erased lines are left out, erased reactions and members dropped from the lines that carry
them, and everything is counted. Either way the decision is the same in a dry run.

Tombstones are looked up CHUNK message lines at a time (one query for their ids, one for users not
seen before), so a file of any size costs a few queries per chunk; users are remembered, a small set.
"""

from dataclasses import dataclass, replace

from chatdata.erasure import tombstones

CHUNK = 2_000
HINT_SKIP = "use --skip-erased to skip such lines"
HINT_DROP = "use --skip-erased to leave them out"


@dataclass
class ErasedTally:
    lines: int = 0  # user and message lines skipped
    reactions: int = 0  # reactions left out of message lines
    members: int = 0  # members left out of conversation lines
    refused: int = 0  # errors about erased data (without skip)

    def __bool__(self):
        return bool(self.lines or self.reactions or self.members or self.refused)


def _day(moment):
    return f"{moment:%Y-%m-%d}"


class ImportScreen:
    def __init__(self, plan, *, skip):
        self.plan = plan
        self.skip = skip
        self.tally = ErasedTally()
        self.skipped_lines = set()
        self._users = {}  # external id -> erased_at or None, for every user id looked up
        self._waiting = []

    # --- users --------------------------------------------------------------------------------

    def _look_up_users(self, ids):
        new = [x for x in dict.fromkeys(ids) if x not in self._users]
        if new:
            found = tombstones.erased_at(tombstones.USER, new)
            self._users.update((x, found.get(x)) for x in new)

    def user_erased_at(self, external_id):
        if external_id not in self._users:
            self._look_up_users([external_id])
        return self._users[external_id]

    def _refuse(self, line, text):
        self.tally.refused += 1
        self.plan.error(line, text)

    # --- pass one: message lines, a chunk at a time ----------------------------------------------

    def feed(self, record):
        """Message records that pass the screen, in file order, once a chunk is full."""
        self._waiting.append(record)
        return self.flush() if len(self._waiting) >= CHUNK else []

    def flush(self):
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return []
        self._look_up_users([u for r in waiting for u in (r.sender, *(user for user, _ in r.reactions))])
        gone = tombstones.erased_at(tombstones.MESSAGE, [r.id for r in waiting])
        admitted = []
        for record in waiting:
            if (record := self._screen_message(record, gone)) is not None:
                admitted.append(record)
        return admitted

    def _screen_message(self, record, gone):
        sender_erased = self._users.get(record.sender)
        if record.id in gone or sender_erased:
            if self.skip:
                self.tally.lines += 1
                self.skipped_lines.add(record.line)
            elif record.id in gone:
                self._refuse(record.line, f"message {record.id!r} was erased on {_day(gone[record.id])} (tombstone); {HINT_SKIP}")
            else:
                self._refuse(
                    record.line,
                    f"message {record.id!r} was sent by user {record.sender!r}, who was erased on "
                    f"{_day(sender_erased)} (tombstone); {HINT_SKIP}",
                )
            return None
        erased = [(index, user) for index, (user, _) in enumerate(record.reactions) if self._users.get(user)]
        if not erased:
            return record
        if self.skip:
            self.tally.reactions += len(erased)
            return self.strip(record)
        for index, user in erased:
            self._refuse(
                record.line, f"reactions[{index}]: user {user!r} was erased on {_day(self._users[user])} (tombstone); {HINT_DROP}"
            )
        return None

    # --- pass one: user and conversation lines, once the whole file is read ----------------------

    def screen_definitions(self):
        """Drop (or refuse) erased users' lines and erased members of conversation lines."""
        plan = self.plan
        self._look_up_users([*plan.users, *(m for record in plan.conversations.values() for m in record.members)])
        for external_id, record in list(plan.users.items()):
            if when := self._users.get(external_id):
                if self.skip:
                    self.tally.lines += 1
                    del plan.users[external_id]
                else:
                    self._refuse(record.line, f"user {external_id!r} was erased on {_day(when)} (tombstone); {HINT_SKIP}")
        for external_id, record in list(plan.conversations.items()):
            erased = [m for m in record.members if self._users.get(m)]
            if not erased:
                continue
            if self.skip:
                left = tuple(m for m in record.members if m not in erased)
                if left:
                    self.tally.members += len(erased)
                    plan.conversations[external_id] = replace(record, members=left)
                else:  # only erased people in it: nothing of anyone else to bring back
                    self.tally.lines += 1
                    del plan.conversations[external_id]
                continue
            for member in erased:
                self._refuse(
                    record.line,
                    f"conversation {external_id!r}: member {member!r} was erased on {_day(self._users[member])} "
                    f"(tombstone); {HINT_DROP}",
                )

    # --- pass two ---------------------------------------------------------------------------------

    def skips(self, line):
        return line in self.skipped_lines

    def strip(self, record):
        """The message record without the reactions of erased users (pass two, with skip)."""
        if not any(self._users.get(user) for user, _ in record.reactions):
            return record
        return replace(record, reactions=tuple((u, e) for u, e in record.reactions if not self._users.get(u)))
