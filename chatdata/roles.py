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


def roles_of(user):
    """The set of role names a staff member holds (superusers hold admin)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_chatsweep_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(ADMIN)
        cached = frozenset(names)
        user._chatsweep_roles = cached
    return cached


def has_role(user, *roles):
    """True if the user holds any of `roles`, or is an admin."""
    held = roles_of(user)
    return ADMIN in held or any(role in held for role in roles)
