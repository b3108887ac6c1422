"""What the audit log says about recent staff changes, for the two-person rule's cooling period
(chatdata.permissions.cooling_refusal).

A requester "controls" an account they created, or whose password they set, and, along the chain,
every account such an account created or set the password of: the rule must not be beaten by an
admin who makes a helper account that makes the approving account. A role granted to a real,
older account does not pass control on: that person acts for themselves. Only changes made by a
person count (the entries chatdata.staff_audit writes with an actor); a command run on the server
is nobody's requester. Every link has to be younger than the cooling period.
"""

from dataclasses import dataclass

from chatdata.models import AuditEntry

CREATED = "staff.created"
PASSWORD_SET = "staff.password_changed"
ROLE_ADDED = "staff.role_added"
SUPERUSER_GRANTED = "staff.superuser_granted"
CONTROL = (CREATED, PASSWORD_SET)
GRANTS = (ROLE_ADDED, SUPERUSER_GRANTED)
SUPERUSER = "superuser"  # the source of the admin role that is a flag, not a group


@dataclass(frozen=True)
class StaffEvent:
    id: int
    action: str
    actor_id: int
    actor_name: str
    staff_id: int
    role: str | None
    at: object

    @property
    def source(self):
        """Which of the staff member's role sources this grant gave: a group's name, or "superuser"."""
        return SUPERUSER if self.action == SUPERUSER_GRANTED else self.role


def events_since(since):
    """Changes people made to staff accounts since `since` that give control or a role, oldest first."""
    rows = (
        AuditEntry.objects.filter(action__in=CONTROL + GRANTS, created_at__gte=since, actor__isnull=False)
        .order_by("id")
        .values_list("id", "action", "actor_id", "actor_name", "scope", "created_at")
    )
    events = []
    for pk, action, actor_id, actor_name, scope, at in rows:
        staff_id = scope.get("staff_id") if isinstance(scope, dict) else None
        if isinstance(staff_id, int):
            events.append(StaffEvent(pk, action, actor_id, actor_name, staff_id, scope.get("role"), at))
    return events


def controlled_accounts(owner_id, events):
    """{account id: [the events, owner first, that put it under the owner's control]}."""
    chains = {owner_id: []}
    grew = True
    while grew:
        grew = False
        for event in events:
            if event.action in CONTROL and event.actor_id in chains and event.staff_id not in chains:
                chains[event.staff_id] = chains[event.actor_id] + [event]
                grew = True
    return chains


def latest_grants(staff_id, events):
    """{role source: the newest grant event of it} for one staff member."""
    latest = {}
    for event in events:
        if event.action in GRANTS and event.staff_id == staff_id:
            latest[event.source] = event
    return latest
