"""Every URL pattern is known to the audit's coverage (tests/audit_coverage.py), and what is not
meant to change anything says so: a POST to a read-only page is refused and recorded, an anonymous
one writes nothing."""

import pytest

from chatdata.models import AuditEntry
from tests.audit_coverage import (  # noqa: F401 (world and signed_in are fixtures)
    EXCLUDED, READ_ONLY, STATE_CHANGING, all_routes, entries_written, expect_status, known_routes, sample_url,
    signed_in, world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_every_url_pattern_is_known():
    routes = list(all_routes())
    unknown = sorted(set(routes) - known_routes())
    assert not unknown, f"URL patterns this test does not know (say how they are audited): {unknown}"
    assert not set(READ_ONLY) & STATE_CHANGING and not STATE_CHANGING & set(EXCLUDED)
    gone = sorted((set(READ_ONLY) | STATE_CHANGING) - set(routes))
    assert not gone, f"routes listed here that no longer exist: {gone}"


@pytest.mark.parametrize("route", sorted(READ_ONLY))
def test_a_post_to_a_read_only_page_is_refused_and_recorded(signed_in, world, route):
    written = entries_written(lambda: expect_status(signed_in[world.mona].post(sample_url(route)), 405))
    assert written == ["request.refused"]
    entry = AuditEntry.objects.latest("id")
    assert entry.actor == world.mona and entry.target == f"POST {sample_url(route)}" and entry.reason.startswith("405")


def test_an_anonymous_refusal_writes_nothing(client, world):
    # Anonymous POSTs go to the login page (302); nobody unknown can grow the log.
    assert entries_written(lambda: expect_status(client.post("/jobs/1/cancel/"), 302)) == []
