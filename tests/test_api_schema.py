"""Schemathesis against the generated OpenAPI document (issue 15): every operation, with a valid
token of each role, on generated input: no server error, no response that breaks the schema.

The figure (operations and cases) goes to the README; this test prints it (`-s` to see it)."""

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from chatdata import roles
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.api_helpers import token_for
from tests.builders import ChatWorld
from tests.conftest import make_staff

EXAMPLES = 20


def _data(moderator):
    chat = ChatWorld().two_groups(5, 3)
    do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="spam")
    return chat.alice, chat.group


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, minus closing the connection after each request (which would
    close the test's transaction): what Django's test client does too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_it_finds_no_server_error_and_no_schema_violation(settings, capsys, wsgi_app):
    settings.API_RATE_LIMIT = 0
    settings.PURGE_INLINE_LIMIT = 0  # runs go to the queue, not into a generated request
    staff = {name: make_staff(f"st-{name}", name) for name in roles.ALL_ROLES}
    alice, _ = _data(staff[roles.MODERATOR])
    do_add_legal_hold(actor=staff[roles.ADMIN], user=alice, reason="case 1")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    cases = 0
    for role, person in staff.items():
        # The WSGI transport hands back the body as sent; GZipMiddleware would compress larger ones.
        headers = {"Authorization": f"Bearer {token_for(person)}", "Accept-Encoding": "identity"}
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis.settings(
                max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                nonlocal cases
                cases += 1
                case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

            run()
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations x {len(staff)} roles, {cases} cases, no failure")
    assert len(operations) >= 25 and cases >= len(operations) * len(staff)
