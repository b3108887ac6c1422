"""The demo chat history, generated as rows, deterministically from a seed.

Determinism: every random choice comes from `random.Random` instances seeded from the plan, and
"now" is a fixed instant derived from the seed, never the wall clock; ids are assigned here, not by
the database. So one plan always yields the same rows, ids, external ids, timestamps and files.

Shape: a few huge group and room conversations carry ~40% of the messages, the rest is spread with
a heavy-tailed distribution over many small peer conversations, some groups and rooms, and system
notices. Timestamps cover the year before "now" with a day/night rhythm in each conversation's
local time zone and a weekday/growth trend over the year.

Streaming: messages are numbered in time order (ids grow with sent_at, as in a live service). To
get that without holding rows in memory, each message is first reduced to one packed integer
(time since the start of the year << bits | conversation index); those are sorted, and the rows are
then produced one at a time from them. Rows go to `emit[Model](row)` in the column order of
COLUMNS; timestamps are integer milliseconds since the Unix epoch, payloads are JSON text, and
attachment rows carry the file content as an extra last element for the loader to store.
"""

import itertools
import json
import random
from bisect import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from chatdata.models import Attachment, ChatUser, Conversation, Membership, Message, MessageHide, PendingDelivery, Reaction
from chatdata.seed import content

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE_NOW = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
SYSTEM_USER_ID = 1

COLUMNS = {
    ChatUser: ("id", "external_id", "display_name", "created_at", "erased_at"),
    Conversation: ("id", "external_id", "kind", "title", "created_at", "last_message_at"),
    Membership: ("id", "conversation_id", "user_id", "joined_at", "cleared_before", "hidden"),
    Message: ("id", "external_id", "conversation_id", "sender_id", "sent_at", "kind", "body", "payload"),
    Reaction: ("id", "message_id", "user_id", "emoji"),
    Attachment: ("id", "message_id", "file", "size", "content_type"),
    MessageHide: ("id", "message_id", "user_id", "created_at"),
    PendingDelivery: ("id", "message_id", "user_id", "queued_at"),
}

# Share of all messages carried by the huge conversations (when the plan has enough of each kind).
HUGE_GROUP_SHARES = (0.14, 0.08, 0.05)
HUGE_ROOM_SHARES = (0.10, 0.05)
# Local-time activity per hour of the day: quiet at night, peaks in the evening.
HOUR_WEIGHTS = (2, 1.2, 0.7, 0.4, 0.4, 0.6, 1.5, 3, 5, 6, 6, 6, 7, 6, 6, 6, 6, 6.5, 7, 8, 9, 9, 7, 4)
UTC_OFFSETS = {"en": (-5, 0, -8, 1), "zh": (8,), "es": (1, -5), "de": (1,), "ja": (9,), "ru": (3,), "fr": (1,), "pt": (-3, 0), "ar": (3,)}

ATTACHMENT_RATE = 0.05
REACTION_RATE = 0.12
HIDE_RATE = 0.004
OFFLINE_USER_RATE = 0.04
PENDING_WINDOW_MS = 36 * HOUR_MS


@dataclass(frozen=True)
class SeedPlan:
    users: int = 200
    conversations: int = 300
    messages: int = 20_000
    seed: int = 1

    @property
    def now(self):
        """The fixed "now" of this plan: the data covers the year before it."""
        return BASE_NOW + timedelta(days=self.seed % 30)

    def problems(self):
        """What is wrong with the plan, as messages naming the option (empty when it is fine)."""
        found = []
        if not 3 <= self.users <= 10_000_000:
            found.append("--users must be between 3 and 10,000,000 (a system account and two people)")
        if not 4 <= self.conversations <= 10_000_000:
            found.append("--conversations must be between 4 and 10,000,000 (one of each kind)")
        if not 0 <= self.messages <= 100_000_000:
            found.append("--messages must be between 0 and 100,000,000")
        if not 0 <= self.seed < 2**63:
            found.append("--seed must be a non-negative whole number")
        return found


class _Conv:
    __slots__ = ("index", "pk", "kind", "external_id", "title", "lang", "huge", "members", "cum", "offline",
                 "count", "first", "last", "created", "utc_offset", "last_external_id")

    def __init__(self, index, kind, huge):
        self.index, self.kind, self.huge = index, kind, huge
        self.first = self.last = None
        self.offline = ()
        self.last_external_id = None


def _stamp(ms):
    return EPOCH + timedelta(milliseconds=ms)


def _ms(moment):
    return (moment - EPOCH) // timedelta(milliseconds=1)


class DemoData:
    def __init__(self, plan):
        self.plan = plan
        self.now_ms = _ms(plan.now)
        self.start_ms = self.now_ms - 365 * DAY_MS
        self._rng = {}

    def rng(self, part):
        # One generator per part, so a change in one part does not reshuffle the others.
        if part not in self._rng:
            self._rng[part] = random.Random(f"chatsweep-demo:{self.plan.seed}:{part}")
        return self._rng[part]

    def generate(self, emit):
        users = self._users(emit[ChatUser])
        conversations = self._plan_conversations(users)
        keys = self._timestamps(conversations)
        self._emit_conversations(conversations, emit[Conversation], emit[Membership])
        keys.sort()
        self._messages(keys, conversations, users, emit)

    # --- users ------------------------------------------------------------------------------
    def _users(self, emit_user):
        rng = self.rng("users")
        users = {"names": {SYSTEM_USER_ID: "System"}, "offline": set()}
        emit_user((SYSTEM_USER_ID, "system", "System", self.start_ms - 1000 * DAY_MS, None))
        popularity = []
        for pk in range(2, self.plan.users + 1):
            lang = rng.choices(content.LANGUAGES, content.LANGUAGE_WEIGHTS)[0]
            first, last = rng.choice(content.FIRST_NAMES[lang]), rng.choice(content.LAST_NAMES[lang])
            name = f"{last}{first}" if lang == "zh" else f"{first} {last}"
            users["names"][pk] = name
            # Before any conversation they are in (those start at most 3 days before the year).
            created = self.start_ms - rng.randrange(4 * DAY_MS, 900 * DAY_MS)
            emit_user((pk, f"u{pk - 1:06d}", name, created, None))
            popularity.append(min(rng.paretovariate(1.5), 50.0))
            if rng.random() < OFFLINE_USER_RATE:
                users["offline"].add(pk)
        users["popular"] = list(itertools.accumulate(popularity))
        return users

    # --- conversations ----------------------------------------------------------------------
    def _plan_conversations(self, users):
        rng, plan = self.rng("conversations"), self.plan
        total = plan.conversations
        n_system = max(1, total * 3 // 100)
        n_room = max(1, total * 4 // 100)
        n_group = max(1, total * 18 // 100)
        kinds = [Conversation.Kind.GROUP] * n_group + [Conversation.Kind.ROOM] * n_room + [Conversation.Kind.SYSTEM] * n_system
        kinds += [Conversation.Kind.PEER] * (total - len(kinds))
        # The first groups and rooms are the huge ones, each with a fixed share of all messages.
        first_of_kind = {Conversation.Kind.GROUP: 0, Conversation.Kind.ROOM: n_group}
        shares_of_kind = {Conversation.Kind.GROUP: HUGE_GROUP_SHARES, Conversation.Kind.ROOM: HUGE_ROOM_SHARES}
        conversations, weights, fixed = [], [], {}
        for index, kind in enumerate(kinds):
            shares, rank = shares_of_kind.get(kind, ()), index - first_of_kind.get(kind, 0)
            conv = _Conv(index, kind.value, huge=rank < len(shares))
            self._members(conv, users, rng)
            if conv.huge:
                fixed[index] = shares[rank]
                weights.append(0.0)
            else:
                weights.append(self._weight(kind, rng))
            conversations.append(conv)
        self._counts(conversations, weights, fixed)
        return conversations

    def _weight(self, kind, rng):
        scale, alpha = {"group": (3.0, 1.3), "room": (4.0, 1.3), "peer": (1.0, 1.6), "system": (0.15, 2.0)}[kind]
        return scale * min(rng.paretovariate(alpha), 30.0)

    def _counts(self, conversations, weights, fixed):
        """Split the messages: fixed shares for the huge ones, the rest by weight (largest remainder)."""
        total = self.plan.messages
        rest = max(0.0, 1.0 - sum(fixed.values()))
        weight_sum = sum(weights) or 1.0
        exact = [total * fixed[i] if i in fixed else total * rest * w / weight_sum for i, w in enumerate(weights)]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
        for i in by_remainder[: total - sum(counts)]:
            counts[i] += 1
        for conv, count in zip(conversations, counts, strict=True):
            conv.count = count

    def _members(self, conv, users, rng):
        people = self.plan.users - 1  # everyone but the system account
        kind = conv.kind
        conv.lang = rng.choices(content.LANGUAGES, content.LANGUAGE_WEIGHTS)[0]
        conv.utc_offset = rng.choice(UTC_OFFSETS[conv.lang])
        if kind == Conversation.Kind.SYSTEM:
            conv.members = [SYSTEM_USER_ID, 2 + rng.randrange(people)]
        elif kind == Conversation.Kind.PEER:
            popular = users["popular"]
            a = 2 + bisect(popular, rng.random() * popular[-1])
            b = a
            while b == a:
                b = 2 + bisect(popular, rng.random() * popular[-1])
            conv.members = [a, b]
        else:
            if kind == Conversation.Kind.GROUP:
                size = max(40, min(500, people // 4)) if conv.huge else 3 + int(3 * min(rng.paretovariate(1.2), 20))
            else:
                size = max(60, min(2000, people // 2)) if conv.huge else 10 + int(10 * min(rng.paretovariate(1.3), 30))
            conv.members = rng.sample(range(2, people + 2), min(size, people))
        # A few members write most of the messages.
        conv.cum = list(itertools.accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(conv.members))))
        if kind != Conversation.Kind.ROOM:  # rooms have no offline delivery
            conv.offline = [pk for pk in conv.members if pk in users["offline"]]

    def _timestamps(self, conversations):
        """One packed key per message: (ms since the start of the year << bits) | conversation index."""
        rng = self.rng("timestamps")
        start = date(1970, 1, 1) + timedelta(days=self.start_ms // DAY_MS)
        day_cum = list(itertools.accumulate(
            (0.8 if (start + timedelta(days=d)).weekday() >= 5 else 1.0) * (0.7 + 0.6 * d / 365) for d in range(365)
        ))
        hour_cum = list(itertools.accumulate(HOUR_WEIGHTS))
        bits = max(1, len(conversations).bit_length())
        self.key_bits = bits
        keys = []
        append, random_ = keys.append, rng.random
        for conv in conversations:
            if conv.huge or conv.kind == Conversation.Kind.SYSTEM:
                length = 365
            elif conv.kind == Conversation.Kind.PEER:
                length = 1 + int(364 * random_() ** 2)
            else:
                length = rng.randint(30, 365)
            first_day = rng.randrange(0, 366 - length)
            lo = day_cum[first_day - 1] if first_day else 0.0
            span = day_cum[first_day + length - 1] - lo
            hours = [(h - conv.utc_offset) % 24 for h in range(24)]
            first = last = None
            index = conv.index
            for _ in range(conv.count):
                day = bisect(day_cum, lo + random_() * span)
                offset = day * DAY_MS + hours[bisect(hour_cum, random_() * hour_cum[-1])] * HOUR_MS + int(random_() * HOUR_MS)
                append(offset << bits | index)
                if first is None or offset < first:
                    first = offset
                if last is None or offset > last:
                    last = offset
            if first is None:
                conv.created = self.start_ms + rng.randrange(365 * DAY_MS)
            else:
                conv.first, conv.last = self.start_ms + first, self.start_ms + last
                conv.created = conv.first - rng.randrange(60_000, 3 * DAY_MS)
        return keys

    def _emit_conversations(self, conversations, emit_conversation, emit_membership):
        rng = self.rng("memberships")
        counters = {}
        taken = set()
        membership_ids = itertools.count(1)
        # Primary keys follow creation time, as they would in the chat service.
        for pk, conv in enumerate(sorted(conversations, key=lambda c: (c.created, c.index)), start=1):
            conv.pk = pk
            number = counters[conv.kind] = counters.get(conv.kind, 0) + 1
            conv.external_id, conv.title = self._naming(conv, number, taken)
            emit_conversation((pk, conv.external_id, conv.kind, conv.title, conv.created, conv.last))
            keeps_state = conv.kind != Conversation.Kind.ROOM  # rooms keep no per-member history
            for position, user in enumerate(conv.members):
                cleared, hidden = None, False
                if keeps_state:
                    roll = rng.random()
                    if roll < 0.03 and conv.first is not None:
                        cleared = conv.first + int(rng.random() * (conv.last - conv.first + 1))
                    elif roll < 0.05:
                        hidden = True
                        if conv.last is not None and rng.random() < 0.5:
                            cleared = conv.last + 1
                emit_membership((next(membership_ids), pk, user, conv.created + position * 1000, cleared, hidden))

    def _naming(self, conv, number, taken):
        kind = conv.kind
        if kind == Conversation.Kind.PEER:
            a, b = sorted(conv.members)
            external_id = f"c2c_u{a - 1:06d}_u{b - 1:06d}"
            if external_id in taken:  # a second chat between the same two people (re-created)
                external_id = f"{external_id}_{number}"
            taken.add(external_id)
            return external_id, ""
        if kind == Conversation.Kind.SYSTEM:
            return f"sys{number:05d}", "System notices"
        prefix = "g" if kind == Conversation.Kind.GROUP else "r"
        if conv.huge:
            titles = content.HUGE_GROUP_TITLES if kind == Conversation.Kind.GROUP else content.HUGE_ROOM_TITLES
            title = titles[(number - 1) % len(titles)]
        else:
            titles = content.GROUP_TITLES if kind == Conversation.Kind.GROUP else content.ROOM_TITLES
            title = f"{titles[(number - 1) % len(titles)]} {number}" if number > len(titles) else titles[number - 1]
        return f"{prefix}{number:05d}", title

    # --- messages ---------------------------------------------------------------------------
    def _messages(self, keys, conversations, users, emit):
        rng = self.rng("messages")
        random_, choice, randrange = rng.random, rng.choice, rng.randrange
        emit_message, emit_reaction = emit[Message], emit[Reaction]
        emit_hide, emit_pending, emit_attachment = emit[MessageHide], emit[PendingDelivery], emit[Attachment]
        reaction_ids, hide_ids, pending_ids, attachment_ids = (itertools.count(1) for _ in range(4))
        names = users["names"]
        bits, mask = self.key_bits, (1 << self.key_bits) - 1
        start_ms, now_ms = self.start_ms, self.now_ms
        pending_from = now_ms - PENDING_WINDOW_MS
        SYSTEM, PEER, GROUP = Conversation.Kind.SYSTEM.value, Conversation.Kind.PEER.value, Conversation.Kind.GROUP.value
        days = {}  # one directory per day: file creation slows down in directories with thousands of entries
        for mid, key in enumerate(keys, start=1):
            ms = (key >> bits) + start_ms
            conv = conversations[key & mask]
            external_id = f"m{mid:09d}"
            kind = conv.kind
            if kind == SYSTEM:
                event, body = choice(content.SYSTEM_NOTICES)
                emit_message((mid, external_id, conv.pk, SYSTEM_USER_ID, ms, "system", body, f'{{"event": "{event}"}}'))
                continue
            members = conv.members
            sender = members[bisect(conv.cum, random_() * conv.cum[-1])]
            roll = random_()
            if roll < ATTACHMENT_RATE:
                day = ms // DAY_MS
                if day not in days:
                    d = date(1970, 1, 1) + timedelta(days=day)
                    days[day] = f"attachments/{d.year}/{d.month:02d}/{d.day:02d}/"
                caption = self._body(conv.lang, rng) if random_() < 0.5 else ""
                if random_() < 0.7:
                    width, height = choice(content.PNG_SIDES), choice(content.PNG_SIDES)
                    data = content.png_bytes(width, height, choice(content.PNG_COLOURS))
                    name, content_type, mkind = f"{days[day]}{external_id}.png", "image/png", "image"
                    payload = f'{{"width": {width}, "height": {height}}}'
                else:
                    lines = [choice(content.PHRASES[conv.lang]) for _ in range(3 + randrange(6))]
                    data = ("\n".join(lines) + "\n").encode()
                    name, content_type, mkind = f"{days[day]}{external_id}.txt", "text/plain", "file"
                    payload = json.dumps({"name": f"{choice(content.FILE_STEMS)}-{mid}.txt"}, ensure_ascii=False)
                emit_message((mid, external_id, conv.pk, sender, ms, mkind, caption, payload))
                emit_attachment((next(attachment_ids), mid, name, len(data), content_type, data))
            elif roll < ATTACHMENT_RATE + 0.004 and kind == GROUP:
                body = f"{names[sender]} joined the group"
                emit_message((mid, external_id, conv.pk, sender, ms, "system", body, '{"event": "member_joined"}'))
            else:
                payload = "{}"
                if conv.last_external_id is not None and random_() < 0.04:
                    payload = f'{{"reply_to": "{conv.last_external_id}"}}'
                emit_message((mid, external_id, conv.pk, sender, ms, "text", self._body(conv.lang, rng), payload))
            conv.last_external_id = external_id
            if random_() < REACTION_RATE:
                count = 1 + (random_() < 0.3) + (random_() < 0.1)
                for user in rng.sample(members, min(count, len(members))):
                    emit_reaction((next(reaction_ids), mid, user, choice(content.REACTION_EMOJI)))
            if (kind == PEER or kind == GROUP) and random_() < HIDE_RATE:
                hidden_at = min(ms + randrange(60_000, DAY_MS), now_ms - 1)
                emit_hide((next(hide_ids), mid, choice(members), hidden_at))
            if ms >= pending_from:
                for user in conv.offline:
                    if user != sender:
                        emit_pending((next(pending_ids), mid, user, ms))

    @staticmethod
    def _body(lang, rng):
        random_, choice = rng.random, rng.choice
        roll = random_()
        if roll < 0.03:
            return choice(content.EMOJI) * (1 + int(random_() * 3))
        if random_() < 0.1:  # people switch languages
            lang = choice(content.LANGUAGES)
        pool = content.PHRASES[lang]
        body = choice(pool)
        if roll > 0.8:
            body += ("" if lang in ("zh", "ja") else " ") + choice(pool)
        if roll > 0.97:
            body += "\n" + choice(pool)
        if random_() < 0.2:
            body += " " + choice(content.EMOJI)
        return body
