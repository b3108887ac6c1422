"""The steps the purge actions (chatdata.purge.actions) share: their audit entries and refusals,
the row lock, the holds that stop a request, starting a run (inline or queued), and the recount an
execute compares with. Nothing here decides who may do what (chatdata.purge.refusals does)."""

from django.utils import timezone

from chatdata.audit import audit_refusal, write_audit
from chatdata.models import PurgeItem, PurgeRequest
from chatdata.parsing import InvalidText, check_text
from chatdata.purge import staleness
from chatdata.purge.execute import run_or_fail
from chatdata.purge.holds import hold_refusal_message, holds_meeting
from chatdata.purge.inputs import PurgeInvalid
from chatdata.purge.jobs import enqueue_purge
from chatdata.purge.predicates import holds_for
from chatdata.purge.preview import COUNT_KEYS, changes_nothing
from chatdata.purge.refusals import PurgeRefused, execute_check

State = PurgeRequest.State


def counts_of(preview_or_result):
    return {key: (preview_or_result or {}).get(key, 0) for key in COUNT_KEYS}


def audit_purge(action, request, *, actor, ip=None, counts=None, reason=None):
    write_audit(
        action,
        actor=actor,
        target=request.target,
        scope=request.spec,
        counts=counts if counts is not None else counts_of(request.preview),
        purge_request=request,
        reason=request.reason if reason is None else reason,
        ticket=request.ticket,
        ip=ip,
    )


def refuse(message, code, *, actor, spec_dict=None, target="", request=None, ip=None):
    """Audit a refused attempt (after the caller's transaction: call it outside), then raise."""
    audit_refusal(
        "purge.refused",
        message,
        actor=actor,
        target=request.target if request else target,
        scope=request.spec if request else spec_dict,
        purge_request=request,
        ip=ip,
    )
    raise PurgeRefused(message, code)


def clean_text(value, field):
    """Free text from outside, stripped; PurgeInvalid for what PostgreSQL cannot store."""
    try:
        return check_text((value or "").strip(), field)
    except InvalidText as exc:
        raise PurgeInvalid(exc.message, field) from None


def loaded_items(request, items):
    """Leave `request` as prefetch_related("items") would: `request.items.all()` answers with the
    rows just written (in position order); any other query on request.items still asks the database."""
    loaded = request.items.get_queryset()
    loaded._result_cache, loaded._prefetch_done = list(items), True
    cache_name = PurgeItem._meta.get_field("request").remote_field.cache_name
    request.__dict__.setdefault("_prefetched_objects_cache", {})[cache_name] = loaded


def lock_request(request):
    return PurgeRequest.objects.select_for_update().get(pk=request.pk)


def holds_stopping(spec, *, hwm, holds, erasure):
    """The holds that stop a spec: none for an erasure sent on without what its holds keep
    (ErasureRequest.outside_holds; they keep their messages out of it like out of any scope)."""
    if erasure is not None and erasure.outside_holds:
        return []
    return holds_meeting(spec, hwm=hwm, holds=holds)


def hold_check(request):
    """A hold placed after the preview still stops an erasure."""
    spec = request.purge_spec
    met = holds_stopping(spec, hwm=request.high_water_mark, holds=holds_for(request), erasure=request.erasure)
    return (hold_refusal_message(spec, met), PurgeRefused.HOLD) if met else None


def start_run(request):
    """Approved or not needing approval: run inline or enqueue. Caller holds the row lock."""
    now = timezone.now()
    request.attempt += 1
    request.cancel_requested = False
    request.error = ""
    request.finished_at = None
    if request.runs_inline:
        request.state = State.RUNNING
        request.started_at = request.started_at or now
        request.heartbeat_at = now
    else:
        request.state = State.QUEUED
        request.queued_at = now
        request.job_id = enqueue_purge(request)
    request.save()


def run_inline_if_due(request):
    if request.state == State.RUNNING:
        run_or_fail(request.pk, request.attempt)
    request.refresh_from_db()
    return request


def recount_if_due(request, actor):
    """The recount an execute compares with (chatdata.purge.staleness), taken on its own snapshot
    before the row lock so the lock is held briefly; None when the execute will be refused anyway."""
    request.refresh_from_db()
    if execute_check(request, actor) is not None:
        return None
    return staleness.recount(request)


def refuse_changed(request, counted, *, actor, ip):
    """The scope changed since the preview (caller holds the lock): the recount becomes the preview
    (or, when nothing is left, the request is discarded), audited as purge.recount. Returns the
    refusal, or None when the preview still holds."""
    preview, items, holds = counted
    found = staleness.changes(request, preview, items)
    if not found:
        return None
    nothing_left = changes_nothing(request.purge_spec, preview)
    message = staleness.changed_message(found, nothing_left)
    staleness.replace_preview(request, preview, items, holds, found)
    if nothing_left:
        request.state = State.CANCELLED
        request.attempt += 1
        request.finished_at = timezone.now()
        request.save(update_fields=["state", "attempt", "finished_at"])
        request.items.filter(status=PurgeItem.Status.PENDING).update(
            status=PurgeItem.Status.NOT_STARTED, reason="Nothing was left to delete here when it was confirmed."
        )
    audit_purge("purge.recount", request, actor=actor, ip=ip, reason=message)
    return message, PurgeRefused.SCOPE_CHANGED
