"""How much of a message body a list of messages shows.

A list (a conversation's timeline, search results, a user's latest messages, the messages ticked
for a deletion) shows at most BODY_SHOWN characters of each body, cut with "…", and links to the
message's own page for the whole. The database makes the cut (LEFT(body, n)) and the body itself
is deferred, so a page of fifty 10 MB messages moves and renders no more than fifty short ones:
the chat service may store bodies of any size, whatever an import accepts.
"""

from django.db.models.functions import Left

BODY_SHOWN = 2000  # characters


def with_short_bodies(rows):
    """`rows` (a Message queryset) fetching only the first BODY_SHOWN + 1 characters of each body:
    one more than is shown tells whether there is more."""
    return rows.defer("body").annotate(body_head=Left("body", BODY_SHOWN + 1))


def shorten(messages):
    """Give each message `body_shown` (at most BODY_SHOWN characters) and `body_cut` (there is
    more). Messages fetched with their whole body are cut the same way."""
    for message in messages:
        head = message.body_head if "body_head" in message.__dict__ else message.body
        head = head or ""
        message.body_shown, message.body_cut = head[:BODY_SHOWN], len(head) > BODY_SHOWN
    return messages
