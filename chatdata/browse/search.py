"""Message search across conversations.

On PostgreSQL, words are matched with full-text search through the GIN index msg_body_fts_idx
(migration 0003). The query must use exactly the index's expression,
`to_tsvector('simple', COALESCE(body, ''))`, which is what `SearchVector("body", config="simple")`
emits; any other expression silently turns every search into a sequential scan. The 'simple'
configuration does no stemming, since bodies come in many languages: "meeting" does not find
"meetings". Words are ANDed; "quoted phrases", `or` and `-word` work (websearch syntax).

Chinese, Japanese and Korean: the parser has no word segmentation, so a run of CJK characters
between spaces or punctuation is ONE token ("今天天气很好" is a single lexeme). Matching whole
tokens would find almost nothing, so a query with CJK characters is handled two ways:
- narrowed by a sender or a conversation: a substring match (ILIKE) over that scope, newest first,
  reading at most SCAN_WINDOW messages per page through the (sender, sent_at) or
  (conversation, sent_at, id) index, and stopping as soon as the page is full. When a window holds
  too few matches the page says how far back it searched and offers to continue from there, so
  every page stays bounded however large the conversation or the sender's history;
- across everything: a prefix match on tokens ('天气':* finds "天气很好" but not "今天天气"), which the
  GIN index serves. Finding a CJK word in the middle of a run needs a sender or conversation.
Results are always newest first, paged by keyset on (sent_at, id). SQLite (the local demo) has no
such index and falls back to a case-insensitive substring scan (ASCII-only case folding).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
from django.db import connection
from django.db.models import BooleanField, Max, Q
from django.db.models.expressions import RawSQL

from chatdata.browse.bodies import shorten, with_short_bodies
from chatdata.browse.counts import planner_estimate
from chatdata.browse.keyset import Position, before, link_positions
from chatdata.models import Conversation, Message

SEARCH_PAGE = 50
SCAN_WINDOW = 20_000
# Full-text search expecting this many matches or more looks for the newest in recent windows
# first (see _newest_matches).
SORT_ALL_BELOW = 20_000
RECENT_WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=30))
ACTIVE_CAP = 5_000
ACTIVE_CONVERSATION_SQL = '"chatdata_message"."conversation_id" = ANY(%s)'

CJK = re.compile(r"[\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
WORD = re.compile(r"\w+")

FULLTEXT = "fulltext"  # PostgreSQL full-text search, whole words
PREFIX = "prefix"  # PostgreSQL full-text search, CJK tokens by prefix
SUBSTRING = "substring"  # bounded ILIKE scan inside one sender's or conversation's messages
CONTAINS = "contains"  # SQLite fallback
FILTER = "filter"  # no words: the filtered messages, newest first


def body_vector():
    """The exact expression of the GIN index msg_body_fts_idx."""
    return SearchVector("body", config="simple")


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text or ""))


def prefix_tsquery(text: str) -> str:
    """A raw tsquery ANDing the words of `text`, CJK ones as prefixes. Words are runs of \\w, so
    they carry no tsquery syntax (quotes, operators, backslashes)."""
    return " & ".join(f"'{word}':*" if has_cjk(word) else f"'{word}'" for word in WORD.findall(text))


def query_terms(text: str) -> list[str]:
    """The words a query looks for (excluded `-words` and the `or` operator left out), longest
    first: what a results page highlights."""
    excluded = {word.lower() for word in re.findall(r"(?:^|\s)-(\w+)", text)}
    terms = {word.lower() for word in WORD.findall(text)} - excluded - {"or"}
    return sorted(terms, key=lambda word: (-len(word), word))


def text_method(text: str, *, narrowed: bool) -> str:
    """How words are matched (the module docstring): what a search runs, and a purge of what it found."""
    if not text.strip():
        return FILTER
    if connection.vendor != "postgresql":
        return CONTAINS
    if has_cjk(text):
        return SUBSTRING if narrowed else PREFIX
    return FULLTEXT


def text_search_query(text: str, method: str):
    """The SearchQuery of a FULLTEXT or PREFIX search, or None when the words make none."""
    if method == PREFIX:
        tsquery = prefix_tsquery(text)
        return SearchQuery(tsquery, config="simple", search_type="raw") if tsquery else None
    return SearchQuery(text, config="simple", search_type="websearch")


def matching_text_q(text: str, *, narrowed: bool) -> Q:
    """Q on Message for every message whose body matches `text` as a search matches it, without
    the page's bounds: the predicate of a `matching` purge scope (chatdata.purge.predicates). The
    full-text condition is the GIN index's own expression (body_vector); the substring scan of
    CJK words inside a sender or conversation is here unbounded (a purge reads every message in
    scope, in keyset batches, where a results page stops at SCAN_WINDOW)."""
    method = text_method(text, narrowed=narrowed)
    if method == FILTER:
        return Q()
    if method in (FULLTEXT, PREFIX):
        search = text_search_query(text, method)
        return Q(SearchVectorExact(body_vector(), search)) if search is not None else Q(pk__in=[])
    q = Q()
    for word in text.split():
        q &= Q(body__icontains=word)
    return q


@dataclass(frozen=True)
class MessageQuery:
    text: str = ""
    sender_id: int | None = None
    conversation_id: int | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    older_than: Position | None = None

    @property
    def narrowed(self) -> bool:
        return self.sender_id is not None or self.conversation_id is not None

    def method(self) -> str:
        return text_method(self.text, narrowed=self.narrowed)

    def scope(self):
        """Messages within the filters (sender, conversation, dates, cursor), words aside."""
        rows = Message.objects.all()
        if self.sender_id is not None:
            rows = rows.filter(sender_id=self.sender_id)
        if self.conversation_id is not None:
            rows = rows.filter(conversation_id=self.conversation_id)
        if self.start is not None:
            rows = rows.filter(sent_at__gte=self.start)
        if self.end is not None:
            rows = rows.filter(sent_at__lt=self.end)
        if self.older_than is not None:
            rows = rows.filter(before(self.older_than))
        return rows


@dataclass(frozen=True)
class SearchResults:
    messages: list
    next_cursor: str | None
    method: str
    # A bounded substring scan that ran out of window before filling the page: how far back it
    # searched. `next_cursor` then continues the search from there.
    searched_back_to: datetime | None = None


def search_messages(query: MessageQuery, *, limit: int = SEARCH_PAGE, scan_window: int = SCAN_WINDOW) -> SearchResults:
    method = query.method()
    if method == SUBSTRING:
        return _bounded_substring(query, limit, scan_window)
    rows = query.scope()
    if method in (FULLTEXT, PREFIX):
        search = text_search_query(query.text, method)
        if search is None:
            return SearchResults([], None, method)
        matching = Message.objects.alias(document=body_vector()).filter(document=search)
        rows = rows.alias(document=body_vector()).filter(document=search)
        return _results(_newest_matches(query, rows, matching, limit), limit, method)
    if method == CONTAINS:
        for word in query.text.split():
            rows = rows.filter(body__icontains=word)
    return _results(_first(rows, limit), limit, method)


def _first(rows, limit):
    # Only (id, sent_at): the sort over possibly many matches stays narrow; _results loads the page.
    return list(rows.order_by("-sent_at", "-id").values_list("id", "sent_at")[: limit + 1])


def _newest_matches(query: MessageQuery, rows, matching, limit):
    """The first limit+1 of `rows` (the full-text matches in scope; `matching`: the full-text
    matches anywhere), newest first, without sorting every match.

    A common word ("the") matches a tenth of all messages, and ordering 100,000 matches by sent_at
    costs ~100 ms: no index serves "newest first" across conversations, and a date filter does not
    help either, since the matches must be read from the table to learn their dates. So when many
    matches are expected, look in recent windows first, where a b-tree index narrows the rows that
    the GIN index's matches are ANDed with: (sender, sent_at) or (conversation, sent_at, id) when
    the search names a sender or a conversation, otherwise (conversation, sent_at, id) over the
    conversations active in the window. A window holding limit+1 matches holds the answer: every
    match outside it is older; a window reaching back to the start date holds every match.
    "Active since T" means last_message_at >= T, which relies on last_message_at never being
    earlier than a conversation's newest message (import and seed move it forward; a purge leaves
    it, at worst, later). Words expected to match rarely skip the windows: sorting a few thousand
    matches is cheap.
    """
    expected = planner_estimate(rows if query.narrowed else matching)
    top = _top_of_scope(query) if expected is not None and expected >= SORT_ALL_BELOW else None
    for span in RECENT_WINDOWS if top is not None else ():
        since, whole_scope = top - span, False
        if query.start is not None and since <= query.start:
            since, whole_scope = query.start, True
        window = rows.filter(sent_at__gte=since)
        if not query.narrowed:
            active = list(
                Conversation.objects.filter(last_message_at__gte=since).values_list("id", flat=True)[: ACTIVE_CAP + 1]
            )
            if len(active) > ACTIVE_CAP:
                break  # too busy a window to list its conversations: sort the matches instead
            # One array parameter, so the planner sees the list and ANDs the two index scans.
            window = window.filter(RawSQL(ACTIVE_CONVERSATION_SQL, [active], output_field=BooleanField()))
        hits = _first(window, limit)
        if len(hits) > limit or whole_scope:
            return hits
    return _first(rows, limit)


def _top_of_scope(query: MessageQuery):
    """No match in scope is later than this (None: no message at all)."""
    bounds = [bound for bound in (query.end, query.older_than and query.older_than.at) if bound is not None]
    conversations = Conversation.objects.all()
    if query.conversation_id is not None:
        conversations = conversations.filter(pk=query.conversation_id)
    latest = conversations.aggregate(latest=Max("last_message_at"))["latest"]
    if latest is None:
        return None
    # The cursor excludes its own row and the end bound is exclusive: both sit one step above.
    return min([latest + timedelta(microseconds=1), *bounds])


def _results(hits, limit, method, *, searched_back_to=None, continue_from: Position | None = None):
    """Load the first `limit` of `hits` [(id, sent_at)] in order. A further hit means another
    page; so does `continue_from` (a bounded scan that stopped before the end of its scope)."""
    page = hits[:limit]
    by_id = with_short_bodies(Message.objects.select_related("sender", "conversation")).in_bulk([ident for ident, _ in page])
    messages = link_positions(shorten([by_id[ident] for ident, _ in page if ident in by_id]))
    if len(hits) > limit:
        continue_from = Position(page[-1][1], page[-1][0])
    return SearchResults(messages, continue_from.encode() if continue_from else None, method, searched_back_to)


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bounded_substring(query: MessageQuery, limit: int, scan_window: int) -> SearchResults:
    """Read the scope newest first through its index, at most `scan_window` messages, keeping those
    that contain every word. The scan stops as soon as limit+1 have matched; when the window ends
    first, a second look at it finds where it ended, and the next page continues from there."""
    words = query.text.split()
    window = query.scope().order_by("-sent_at", "-id")[:scan_window]
    window_sql, window_params = window.values("id", "sent_at", "body").query.sql_with_params()
    matching = " AND ".join(["w.body ILIKE %s"] * len(words))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT w.id, w.sent_at FROM ({window_sql}) w WHERE {matching} "
            "ORDER BY w.sent_at DESC, w.id DESC LIMIT %s",
            [*window_params, *(_like_pattern(word) for word in words), limit + 1],
        )
        hits = cursor.fetchall()
        if len(hits) > limit:
            return _results(hits, limit, SUBSTRING)
        bounds_sql, bounds_params = window.values("id", "sent_at").query.sql_with_params()
        cursor.execute(
            f"SELECT w.sent_at, w.id, COUNT(*) OVER () FROM ({bounds_sql}) w ORDER BY w.sent_at, w.id LIMIT 1",
            bounds_params,
        )
        oldest = cursor.fetchone()
    if oldest is not None and oldest[2] >= scan_window:
        sent_at, ident, _ = oldest
        return _results(hits, limit, SUBSTRING, searched_back_to=sent_at, continue_from=Position(sent_at, ident))
    return _results(hits, limit, SUBSTRING)
