"""Holds that people can see (issue 14, item 7): a banner on the user and conversation pages with
the hold and what it keeps, a "place a hold" link for those who may, refusals in local dates with
the count held, and the erasure that goes on without what a hold keeps."""

from datetime import timedelta

import pytest
from django.urls import reverse

from chatdata.erasure import run
from chatdata.erasure.actions import (
    ErasureRefused,
    do_approve_erasure,
    do_erase_outside_holds,
    do_open_erasure,
    outside_holds_refusal,
)
from chatdata.models import AuditEntry, ChatUser, Membership, Message, Reaction
from chatdata.purge.actions import PurgeRefused, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold, holds_on_conversation, holds_on_user
from chatdata.purge.scopes import PurgeSpec, UserScope
from tests.builders import T0, add_reaction, make_conversation, make_history, make_user
from tests.conftest import make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
ISO = ("T00:00:00", "+00:00", "T12:00")


@pytest.fixture
def chat(db, redis_conn):
    uma, bob = make_user("uma", "Uma Subject"), make_user("bob", "Bob")
    group = make_conversation("group", [uma, bob], external_id="grp", title="Team")
    other = make_conversation("group", [uma, bob], external_id="oth", title="Other")
    early = make_history(group, uma, 3, start=T0)                          # T0 .. T0+2h
    late = make_history(group, uma, 2, start=T0 + timedelta(days=10))     # outside a 5-day window
    bobs = make_history(group, bob, 2, start=T0 + timedelta(days=1))
    make_history(other, bob, 2, start=T0)
    add_reaction(bobs[0], uma, "👍")
    return {"uma": uma, "bob": bob, "group": group, "other": other, "early": early, "late": late, "bobs": bobs}


@pytest.fixture
def cora(db):
    return make_staff("cora", "compliance")


# --- the banners ------------------------------------------------------------------------------------


def test_the_user_page_shows_the_hold_and_what_it_keeps(client, chat, compliance, moderator):
    hold = do_add_legal_hold(actor=compliance, user=chat["uma"], start=T0, end=T0 + timedelta(days=5), reason="Case 7: subpoena")
    client.force_login(moderator)
    page = client.get(reverse("browse:user", args=[chat["uma"].pk])).content.decode()
    assert "This user is under legal hold" in page
    assert f"Legal hold #{hold.pk}</a>" in page and "placed by cleo" in page and "Case 7: subpoena" in page
    assert "It keeps 3 messages</strong>" in page  # the window holds 3 of her 5
    assert "from 1 Jan 2026, 12:00 UTC until 6 Jan 2026, 12:00 UTC" in page
    banner = page[page.index('class="hold-banner"'):page.index("</section>", page.index('class="hold-banner"'))]
    assert not any(iso in banner for iso in ISO)
    # A moderator may not place holds: no link; a compliance officer gets one, prefilled.
    assert reverse("holds:create") not in page
    client.force_login(compliance)
    page = client.get(reverse("browse:user", args=[chat["uma"].pk])).content.decode()
    assert f'href="{reverse("holds:create")}?user=uma"' in page


def test_the_conversation_page_shows_its_hold_and_the_user_holds_reaching_it(client, chat, compliance, auditor):
    own = do_add_legal_hold(actor=compliance, conversation=chat["group"], reason="Case 8")
    on_bob = do_add_legal_hold(actor=compliance, user=chat["bob"], reason="Case 9")
    covering = holds_on_conversation(chat["group"])
    assert [(c.hold.pk, c.messages, c.direct) for c in covering] == [(own.pk, 7, True), (on_bob.pk, 2, False)]
    client.force_login(auditor)
    page = client.get(reverse("browse:conversation", args=[chat["group"].pk])).content.decode()
    assert "This conversation is under legal hold" in page and "It keeps 7 messages</strong>" in page
    assert "on user <span class=\"mono\">bob</span>" in page and "It keeps 2 messages of this conversation</strong>" in page
    assert "It covers everything, with no time limit." in page
    assert reverse("holds:create") not in page
    client.force_login(compliance)
    page = client.get(reverse("browse:conversation", args=[chat["group"].pk])).content.decode()
    assert f'href="{reverse("holds:create")}?conversation=grp"' in page
    # The link prefills the form.
    form = client.get(f'{reverse("holds:create")}?conversation=grp').content.decode()
    assert 'value="grp"' in form


def test_no_banner_without_a_hold_and_none_after_release(client, chat, compliance):
    from chatdata.purge.holds import do_release_legal_hold

    client.force_login(compliance)
    assert "hold-banner" not in client.get(reverse("browse:user", args=[chat["uma"].pk])).content.decode()
    hold = do_add_legal_hold(actor=compliance, conversation=chat["other"], reason="Case 10")
    assert holds_on_user(chat["uma"]) == []  # she sent nothing there: the hold keeps none of hers
    assert "hold-banner" in client.get(reverse("browse:conversation", args=[chat["other"].pk])).content.decode()
    do_release_legal_hold(hold, actor=compliance, reason="closed")
    assert "hold-banner" not in client.get(reverse("browse:conversation", args=[chat["other"].pk])).content.decode()


# --- refusals people can read ---------------------------------------------------------------------


def test_a_refused_user_purge_names_the_hold_in_local_dates_with_the_count_and_a_way_on(client, chat, compliance):
    hold = do_add_legal_hold(actor=compliance, user=chat["uma"], start=T0, end=T0 + timedelta(days=5), reason="Case 7")
    with pytest.raises(PurgeRefused) as refused:
        do_preview_purge(PurgeSpec(UserScope(chat["uma"].pk), "delete_for_everyone"), actor=compliance, reason="DSR")
    message = refused.value.message
    assert f"legal hold #{hold.pk}" in message and "which keeps 3 messages" in message
    assert "1 Jan 2026, 12:00 UTC" in message and not any(iso in message for iso in ISO)
    client.force_login(compliance)
    response = client.post(reverse("purge:user", args=[chat["uma"].pk]), {"span": "all", "reason": "DSR", "ticket": "T-1"})
    page = response.content.decode()
    assert "which keeps 3 messages" in page
    link = f'{reverse("erasure:open")}?user=uma&amp;outside_holds=1'
    assert link in page
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert 'name="outside_holds" checked' in form or ('name="outside_holds"' in form and "checked" in form)


def test_a_blocked_erasure_shows_local_dates_and_the_count_held(client, chat, compliance):
    hold = do_add_legal_hold(actor=compliance, user=chat["uma"], end=T0 + timedelta(days=5), reason="Case 7")
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-1")
    assert erasure.state == "blocked"
    assert "which keeps 3 messages" in erasure.blocked_reason and "6 Jan 2026, 12:00 UTC" in erasure.blocked_reason
    assert not any(iso in erasure.blocked_reason for iso in ISO)
    client.force_login(compliance)
    page = client.get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert f"legal hold #{hold.pk}" in page and "which keeps 3 messages" in page
    assert reverse("erasure:outside_holds", args=[erasure.pk]) in page and "Erase everything not held" in page


# --- erasing everything a hold does not keep ---------------------------------------------------------


def test_a_blocked_erasure_goes_on_without_what_the_hold_keeps_after_a_second_approval(client, chat, compliance, cora, auditor):
    hold = do_add_legal_hold(actor=compliance, user=chat["uma"], start=T0, end=T0 + timedelta(days=5), reason="Case 7")
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-1")
    assert outside_holds_refusal(auditor, erasure) is not None
    with pytest.raises(ErasureRefused):
        do_erase_outside_holds(erasure, actor=auditor)
    client.force_login(compliance)
    response = client.post(reverse("erasure:outside_holds", args=[erasure.pk]))
    assert response.status_code == 302
    erasure.refresh_from_db()
    assert (erasure.state, erasure.outside_holds, erasure.blocked_reason) == ("awaiting_approval", True, "")
    entry = AuditEntry.objects.filter(action="erasure.outside_holds").get()
    assert entry.actor == compliance and f"legal hold #{hold.pk}" in entry.reason and "3 messages" in entry.reason
    with pytest.raises(ErasureRefused):  # not blocked any more: nothing to send on
        do_erase_outside_holds(erasure, actor=compliance)
    # The normal approval: never the requester, and the subject's id typed.
    with pytest.raises(ErasureRefused):
        do_approve_erasure(erasure, actor=compliance, confirmation="uma")
    erasure = do_approve_erasure(erasure, actor=cora, confirmation="uma")
    assert erasure.state == "running"  # the hold no longer blocks it
    run.erasure_job(erasure.pk, erasure.attempt)
    erasure.refresh_from_db()
    assert erasure.state == "done", erasure.error
    # What the hold keeps stays: her 3 messages in the window, and her row (they need it).
    assert set(Message.objects.filter(sender=chat["uma"])) == set(chat["early"])
    uma = ChatUser.objects.get(pk=chat["uma"].pk)
    assert (uma.external_id, uma.erased_at) == ("uma", None)
    # The rest is gone: her messages outside the window, her reaction, her memberships.
    assert not Message.objects.filter(pk__in=[m.pk for m in chat["late"]]).exists()
    assert not Reaction.objects.filter(user=uma).exists() and not Membership.objects.filter(user=uma).exists()
    assert sum(erasure.residue.values()) == 0
    kept = next(k for k in erasure.kept if k.get("hold") == hold.pk)
    assert kept["messages"] == 3 and kept["chat_user"] == 1
    page = client.get(reverse("erasure:certificate", args=[erasure.pk])).content.decode()
    assert "their chat user row (not pseudonymised: the held messages need it)" in page


def test_an_erasure_opened_to_go_on_without_held_data_is_never_blocked(chat, compliance):
    do_add_legal_hold(actor=compliance, user=chat["uma"], reason="Case 7")
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-1", outside_holds=True)
    assert erasure.state == "awaiting_approval" and erasure.outside_holds
