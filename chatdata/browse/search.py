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
  (conversation, sent_at, id) index. When a window holds too few matches the page says how far back
  it searched and offers to continue from there, so every page stays bounded however large the
  conversation or the sender's history;
- across everything: a prefix match on tokens ('天气':* finds "天气很好" but not "今天天气"), which the
  GIN index serves. Finding a CJK word in the middle of a run needs a sender or conversation.
Results are always newest first, paged by keyset on (sent_at, id). SQLite (the local demo) has no
such index and falls back to a case-insensitive substring scan (ASCII-only case folding).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection

from chatdata.browse.keyset import Position, before, link_positions
from chatdata.models import Message

SEARCH_PAGE = 50
SCAN_WINDOW = 20_000

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
        if not self.text.strip():
            return FILTER
        if connection.vendor != "postgresql":
            return CONTAINS
        if has_cjk(self.text):
            return SUBSTRING if self.narrowed else PREFIX
        return FULLTEXT

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
        if method == PREFIX:
            tsquery = prefix_tsquery(query.text)
            if not tsquery:
                return SearchResults([], None, method)
            search = SearchQuery(tsquery, config="simple", search_type="raw")
        else:
            search = SearchQuery(query.text, config="simple", search_type="websearch")
        rows = rows.alias(document=body_vector()).filter(document=search)
    elif method == CONTAINS:
        for word in query.text.split():
            rows = rows.filter(body__icontains=word)
    # Two steps: find the page by (sent_at, id) alone, which keeps the sort over possibly tens of
    # thousands of matches narrow, then load those rows with their sender and conversation.
    hits = list(rows.order_by("-sent_at", "-id").values_list("id", "sent_at")[: limit + 1])
    return _results(hits, limit, method)


def _results(hits, limit, method, *, searched_back_to=None, continue_from: Position | None = None):
    """Load the first `limit` of `hits` [(id, sent_at)] in order. A further hit means another
    page; so does `continue_from` (a bounded scan that stopped before the end of its scope)."""
    page = hits[:limit]
    by_id = Message.objects.select_related("sender", "conversation").in_bulk([ident for ident, _ in page])
    messages = link_positions([by_id[ident] for ident, _ in page if ident in by_id])
    if len(hits) > limit:
        continue_from = Position(page[-1][1], page[-1][0])
    return SearchResults(messages, continue_from.encode() if continue_from else None, method, searched_back_to)


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bounded_substring(query: MessageQuery, limit: int, scan_window: int) -> SearchResults:
    """One statement: the newest `scan_window` messages of the scope (an index range scan),
    the first limit+1 of them that contain every word, the oldest message read, and how many were
    read. A full window with too few matches continues from the oldest message read."""
    words = query.text.split()
    window = query.scope().order_by("-sent_at", "-id").values("id", "sent_at", "body")[:scan_window]
    window_sql, window_params = window.query.sql_with_params()
    matches = " AND ".join(["body ILIKE %s"] * len(words))
    sql = (
        f"WITH w AS MATERIALIZED ({window_sql}) "
        f"(SELECT id, sent_at, 1 FROM w WHERE {matches} ORDER BY sent_at DESC, id DESC LIMIT %s) "
        "UNION ALL (SELECT id, sent_at, 0 FROM w ORDER BY sent_at, id LIMIT 1) "
        "UNION ALL (SELECT COUNT(*), NULL, 2 FROM w)"
    )
    params = [*window_params, *(_like_pattern(word) for word in words), limit + 1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = [(ident, sent_at) for ident, sent_at, kind in rows if kind == 1]
    oldest = next(((ident, sent_at) for ident, sent_at, kind in rows if kind == 0), None)
    scanned = next(ident for ident, _, kind in rows if kind == 2)

    if len(hits) <= limit and scanned >= scan_window and oldest is not None:
        # The window ran out first: continue from the oldest message read, and say how far back it got.
        ident, sent_at = oldest
        return _results(hits, limit, SUBSTRING, searched_back_to=sent_at, continue_from=Position(sent_at, ident))
    return _results(hits, limit, SUBSTRING)
