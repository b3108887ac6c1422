"""No way around four eyes: an account the requester created, took over (set its password) or gave
the approving role cannot approve or reject their requests for APPROVAL_COOLING_HOURS (issue 11,
item 3). Tried through Django's admin pages, the approvals page and `manage.py purge`."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from chatdata import roles
from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import make_conversation, make_history, make_user
from tests.conftest import make_staff
from tests.test_staff_audit import admin_add_user, admin_change_user, group

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
REFUSED_BY_COOLING = "cannot approve or reject their requests for 24 hours"


@pytest.fixture
def ada(admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    return admin_user


@pytest.fixture
def waiting(db, ada, settings):
    """Ada's delete of a whole group, above the (lowered) approval threshold: it needs a second person."""
    settings.PURGE_APPROVAL_THRESHOLD = 3
    alice, bob = make_user("u-alice"), make_user("u-bob")
    team = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    make_history(team, alice, 6)
    spec = PurgeSpec(ConversationScope(team.pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=ada, reason="spam wave"), actor=ada)
    assert request.state == "awaiting_approval"
    return request


def approve_on_the_web(client, user, request):
    user.refresh_from_db()  # a password set meanwhile would end a session logged in with the old one
    client.force_login(user)
    response = client.post(reverse("approvals:approve", args=[request.pk]), {"confirmation": "Team"}, REMOTE_ADDR="192.0.2.60")
    request.refresh_from_db()
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def approve_on_the_cli(capsys, username, request):
    try:
        call_command("purge", "--approve", str(request.pk), "--actor", username, "--confirm", "Team", "--json")
        status = 0
    except CommandError as exc:
        status = exc.returncode
    return status, json.loads(capsys.readouterr().out.strip())


def refusals():
    return list(AuditEntry.objects.filter(action="purge.refused").order_by("id"))


def test_an_admin_cannot_approve_with_a_second_admin_made_in_djangos_admin(client, ada, waiting, capsys):
    client.force_login(ada)
    sock = admin_add_user(client, "ada2")
    admin_change_user(client, sock, is_superuser=True, is_staff=True)

    message = approve_on_the_web(client, sock, waiting)
    assert waiting.state == "awaiting_approval" and Message.objects.count() == 6
    assert "Your account was created by ada less than a minute ago" in message
    assert "an account the requester created, took over or promoted " + REFUSED_BY_COOLING in message
    refused = refusals()[-1]
    assert (refused.actor, refused.purge_request_id, refused.ip) == (sock, waiting.pk, "192.0.2.60")
    assert "created by ada" in refused.reason

    status, out = approve_on_the_cli(capsys, "ada2", waiting)
    assert (status, out["error"]["code"]) == (3, "not_permitted")
    assert "created by ada" in out["error"]["message"]
    assert len(refusals()) == 2 and PurgeRequest.objects.get().state == "awaiting_approval"

    # The queue shows ada2 the sentence instead of the buttons.
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "created by ada" in page and f'action="{reverse("approvals:approve", args=[waiting.pk])}"' not in page


def test_an_existing_account_given_the_approving_role_is_refused_naming_the_role(client, ada, waiting, outsider):
    client.force_login(ada)
    admin_change_user(client, outsider, groups=[group(roles.MODERATOR).pk])
    message = approve_on_the_web(client, outsider, waiting)
    assert "Your account was given the moderator role by ada less than a minute ago" in message
    assert waiting.state == "awaiting_approval"
    # Rejecting is the same rule.
    client.force_login(outsider)
    client.post(reverse("approvals:reject", args=[waiting.pk]), {"reason": "no"})
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval"


def test_the_superuser_flag_counts_as_the_admin_role(client, ada, waiting, outsider):
    client.force_login(ada)
    admin_change_user(client, outsider, is_superuser=True)
    assert "given the admin role by ada" in approve_on_the_web(client, outsider, waiting)
    assert waiting.state == "awaiting_approval"


def test_an_account_whose_password_the_requester_set_is_refused(client, ada, waiting, moderator2):
    client.force_login(ada)
    client.post(f"/admin/auth/user/{moderator2.pk}/password/", {"password1": "taken over 123!", "password2": "taken over 123!", "usable_password": "true"})
    assert "Your account's password was set by ada" in approve_on_the_web(client, moderator2, waiting)
    assert waiting.state == "awaiting_approval"


def test_the_chain_counts_an_account_made_by_an_account_the_requester_made(client, ada, waiting):
    client.force_login(ada)
    xavier = admin_add_user(client, "xavier")
    admin_change_user(client, xavier, is_superuser=True, is_staff=True)
    client.force_login(xavier)
    yves = admin_add_user(client, "yves")
    admin_change_user(client, yves, groups=[group(roles.MODERATOR).pk])
    message = approve_on_the_web(client, yves, waiting)
    assert "Your account was created by xavier less than a minute ago, whose account was created by ada" in message
    assert waiting.state == "awaiting_approval"


def test_a_moderator_of_long_standing_promoted_by_the_requester_may_still_approve(client, ada, waiting, moderator2):
    """max could approve as a moderator before ada made him an admin: the promotion gives him nothing."""
    client.force_login(ada)
    admin_change_user(client, moderator2, groups=[group(roles.MODERATOR).pk, group(roles.ADMIN).pk])
    message = approve_on_the_web(client, moderator2, waiting)
    assert "approved and run" in message and waiting.state == "done"


def test_someone_else_creating_the_account_is_no_reason_to_refuse(client, ada, waiting):
    other_admin = make_staff("olga", roles.ADMIN, superuser=True)
    other_admin.is_staff = True
    other_admin.save()
    client.force_login(other_admin)
    newcomer = admin_add_user(client, "nina")
    admin_change_user(client, newcomer, groups=[group(roles.MODERATOR).pk])
    assert "approved and run" in approve_on_the_web(client, newcomer, waiting)


def test_the_cooling_ends_after_the_configured_hours(client, ada, waiting, outsider, monkeypatch):
    client.force_login(ada)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(hours=25))
    admin_change_user(client, outsider, groups=[group(roles.MODERATOR).pk])
    monkeypatch.setattr(timezone, "now", real_now)
    assert "approved and run" in approve_on_the_web(client, outsider, waiting)


def test_zero_hours_turns_the_rule_off(client, ada, waiting, settings, capsys):
    settings.APPROVAL_COOLING_HOURS = 0
    client.force_login(ada)
    sock = admin_add_user(client, "ada2")
    admin_change_user(client, sock, groups=[group(roles.MODERATOR).pk])
    status, out = approve_on_the_cli(capsys, "ada2", waiting)
    assert (status, out["state"]) == (0, "done")


def test_a_longer_cooling_is_named_in_the_refusal(client, ada, waiting, settings, outsider):
    settings.APPROVAL_COOLING_HOURS = 72
    client.force_login(ada)
    admin_change_user(client, outsider, groups=[group(roles.MODERATOR).pk])
    assert "cannot approve or reject their requests for 72 hours" in approve_on_the_web(client, outsider, waiting)


def test_a_promotion_by_the_requester_from_the_shell_is_not_traced_to_them(ada, waiting, outsider, capsys):
    """Outside a request the change is the system's (the command is named in the entry), so only the
    web and a person's own account count as the requester's doing."""
    outsider.groups.add(group(roles.MODERATOR))
    status, out = approve_on_the_cli(capsys, "otto", waiting)
    assert (status, out["state"]) == (0, "done")
