"""Read helpers for one conversation: its timeline, its members and their one-way state.

The timeline is newest first and paged by keyset on (sent_at, id) through msg_conv_sent_idx, in
both directions: "older" continues below the last message shown, "newer" climbs back up from the
first (after a date jump, say). Every page costs the same fixed number of queries: the messages
with their senders and per-message hide / pending-delivery counts (correlated subqueries on
unique indexes), then their attachments, then their reactions grouped by emoji.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from chatdata.browse.bodies import shorten, with_short_bodies
from chatdata.browse.counts import Tally, count_of, count_or_estimate
from chatdata.browse.keyset import Page, Position, after, before, link_positions, take
from chatdata.models import Attachment, Membership, Message, MessageHide, PendingDelivery, Reaction

TIMELINE_PAGE = 50
MEMBERS_PAGE = 25
# Attachment types a browser may show inline; anything else is only ever downloaded.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _rows():
    return Message.objects.select_related("sender").annotate(
        hide_count=count_of(MessageHide, "message"),
        pending_count=count_of(PendingDelivery, "message"),
    )


def message_rows():
    """Messages with what the timeline shows next to each, bodies cut (call `decorate` on the
    fetched page)."""
    return with_short_bodies(_rows())


def whole_message(pk):
    """One message with what the timeline shows next to it and its whole body, or None."""
    message = _rows().select_related("conversation").filter(pk=pk).first()
    return decorate([message])[0] if message is not None else None


def decorate(messages):
    """Attach `attachment_list` and `reaction_summary` [(emoji, count)] to each message: two
    queries for the whole page, whatever its size."""
    messages = list(messages)
    ids = [message.pk for message in messages]
    attachments = defaultdict(list)
    reactions = defaultdict(list)
    if ids:
        for attachment in Attachment.objects.filter(message_id__in=ids).order_by("id"):
            attachments[attachment.message_id].append(attachment)
        grouped = (
            Reaction.objects.filter(message_id__in=ids)
            .values("message_id", "emoji")
            .annotate(n=Count("id"))
            .order_by("message_id", "-n", "emoji")
        )
        for row in grouped:
            reactions[row["message_id"]].append((row["emoji"], row["n"]))
    for message in messages:
        message.attachment_list = attachments[message.pk]
        for attachment in message.attachment_list:
            attachment.shows_inline = attachment.content_type in INLINE_IMAGE_TYPES
            attachment.basename = attachment.file.name.rsplit("/", 1)[-1]
        message.reaction_summary = reactions[message.pk]
    return link_positions(shorten(messages))


def timeline(conversation, *, older_than: Position | None = None, newer_than: Position | None = None,
             limit: int = TIMELINE_PAGE) -> Page:
    """One page of the conversation, newest first. `next_cursor` leads to older messages,
    `prev_cursor` to newer ones (None at either end)."""
    rows = message_rows().filter(conversation=conversation)
    if newer_than is not None:
        # Climb up: the `limit` messages just above the cursor, then show them newest first.
        page, more_newer = take(rows.filter(after(newer_than)).order_by("sent_at", "id")[: limit + 1], limit)
        page.reverse()
        more_older = True  # the cursor itself came from an older message
    else:
        if older_than is not None:
            rows = rows.filter(before(older_than))
        page, more_older = take(rows.order_by("-sent_at", "-id")[: limit + 1], limit)
        more_newer = older_than is not None and bool(page) and (
            Message.objects.filter(conversation=conversation).filter(after(Position.of(page[0]))).exists()
        )
    if not page:
        return Page([])
    return Page(
        decorate(page),
        next_cursor=Position.of(page[-1]).encode() if more_older else None,
        prev_cursor=Position.of(page[0]).encode() if more_newer else None,
    )


def message_count(conversation) -> Tally:
    # msg_conv_sent_idx covers (conversation, sent_at): an index-only scan once vacuumed.
    return count_or_estimate(Message.objects.filter(conversation=conversation), column="sent_at")


@dataclass(frozen=True)
class MemberSummary:
    total: int
    hidden: int
    cleared: int


def member_summary(conversation) -> MemberSummary:
    counts = Membership.objects.filter(conversation=conversation).aggregate(
        total=Count("id"),
        hidden=Count("id", filter=Q(hidden=True)),
        cleared=Count("id", filter=Q(cleared_before__isnull=False)),
    )
    return MemberSummary(**counts)


def members(conversation, *, after_user_id: int | None = None, limit: int = MEMBERS_PAGE) -> Page:
    """Members by user id (the order of membership_unique), with their one-way state."""
    rows = Membership.objects.filter(conversation=conversation).select_related("user")
    if after_user_id is not None:
        rows = rows.filter(user_id__gt=after_user_id)
    page, more = take(rows.order_by("user_id")[: limit + 1], limit)
    return Page(page, next_cursor=str(page[-1].user_id) if more else None)
