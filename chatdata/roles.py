"""Staff roles. Each is a Django group created by a migration; a staff member may hold several."""

SUPPORT = "support"
MODERATOR = "moderator"
COMPLIANCE = "compliance"
AUDITOR = "auditor"
ADMIN = "admin"

ALL_ROLES = (SUPPORT, MODERATOR, COMPLIANCE, AUDITOR, ADMIN)

ROLE_DESCRIPTIONS = {
    SUPPORT: "Browse; hide messages for one member; delete a few selected messages.",
    MODERATOR: "All conversation-level deletions; approve other people's requests.",
    COMPLIANCE: "User scopes (erasure), legal holds, audit export.",
    AUDITOR: "Read-only: browse and the audit log.",
    ADMIN: "Everything.",
}


def role_names(user_pk):
    """The names of the roles held by the user `user_pk` (a value or an OuterRef), as an array
    subquery to annotate a query that loads the user anyway (PostgreSQL only); give the value to
    `remember_roles` and roles_of asks nothing more."""
    from django.contrib.auth.models import Group
    from django.contrib.postgres.expressions import ArraySubquery

    return ArraySubquery(Group.objects.filter(user=user_pk, name__in=ALL_ROLES).values("name"))


def remember_roles(user, names):
    """Set what roles_of(user) answers from the group names the user holds (as queried by it)."""
    names = {name for name in names or () if name in ALL_ROLES}
    if user.is_superuser:
        names.add(ADMIN)
    user._chatsweep_roles = frozenset(names)


def roles_of(user):
    """The set of role names a staff member holds (superusers hold admin)."""
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "_chatsweep_roles", None) is None:
        remember_roles(user, user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
    return user._chatsweep_roles


def has_role(user, *roles):
    """True if the user holds any of `roles`, or is an admin."""
    held = roles_of(user)
    return ADMIN in held or any(role in held for role in roles)
