"""Checks of a PurgeSpec against the database, and specs built from external ids.

`check_spec(spec)` raises PurgeInvalid for what the issue lists (unknown ids, ids from another
conversation, one-way effects on rooms, a member who is not in the conversation) and returns
what it loaded, so the preview does not load it again. It only reads: a refused spec leaves no
trace. In a `conversations` scope each conversation stands alone: a room or a conversation the
member is not in becomes a refused item instead of failing the others (Tencent's
deleteConversationList); only when every one is refused is the whole spec invalid.
"""

from dataclasses import dataclass, field

from chatdata.browse.naming import UnknownName, find_user
from chatdata.models import ChatUser, Conversation, Membership, Message
from chatdata.purge.inputs import PurgeInvalid, check_id_count
from chatdata.purge.scopes import CONVERSATION, CONVERSATIONS, MATCHING, MESSAGES, RANGE, USER, spec_from_dict

FEW = 5


def few(values):
    values = list(values)
    shown = ", ".join(str(v) for v in values[:FEW])
    return shown + (f" and {len(values) - FEW} more" if len(values) > FEW else "")


@dataclass
class Resolved:
    """What check_spec loaded: conversations by pk, the user and member, refused items."""

    conversations: dict = field(default_factory=dict)
    user: ChatUser | None = None
    member: ChatUser | None = None
    refused: dict = field(default_factory=dict)  # conversation pk -> reason (conversations scope)
    senders: list = field(default_factory=list)  # ChatUsers a scope is narrowed to
    target: str = ""


def _conversations(pks, field_name):
    found = {c.pk: c for c in Conversation.objects.filter(pk__in=pks).only("id", "external_id", "kind", "title")}
    missing = [pk for pk in pks if pk not in found]
    if missing:
        noun = "conversation" if len(missing) == 1 else "conversations"
        raise PurgeInvalid(f"No {noun} with id {few(missing)}.", field_name)
    return found


def _senders(pks):
    if not pks:  # most scopes name no senders: no query to build
        return []
    found = {u.pk: u for u in ChatUser.objects.filter(pk__in=pks).only("id", "external_id", "display_name")}
    missing = [pk for pk in pks if pk not in found]
    if missing:
        raise PurgeInvalid(f"No chat user with id {few(missing)} (senders).", "senders")
    return [found[pk] for pk in pks]


def senders_named(names):
    """Chat user pks for what a person typed to name senders: external ids or names, as the
    search's sender field takes them (chatdata.browse.naming). PurgeInvalid names what is unknown
    or ambiguous; empty entries are skipped."""
    pks = []
    for name in names:
        try:
            user = find_user(name)
        except UnknownName as exc:
            raise PurgeInvalid(str(exc), "senders") from None
        if user is not None and user.pk not in pks:
            pks.append(user.pk)
    check_id_count(len(pks), "senders")
    return pks


def _one_way_problems(spec, conversations):
    """conversation pk -> why the one-way effect cannot apply there."""
    if not spec.one_member:
        return {}
    member_of = set(
        Membership.objects.filter(user_id=spec.member, conversation_id__in=list(conversations)).values_list(
            "conversation_id", flat=True
        )
    )
    problems = {}
    for pk, conversation in conversations.items():
        if conversation.kind == Conversation.Kind.ROOM:
            problems[pk] = (
                f"{conversation.external_id} is a room: rooms keep no per-member history, so "
                f"{spec.effect} for one member does not apply (delete for everyone instead)."
            )
        elif pk not in member_of:
            problems[pk] = f"The member is not in conversation {conversation.external_id}."
    return problems


def _bounds_label(start, end):
    if start and end:
        return f" from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    if start:
        return f" from {start:%Y-%m-%d %H:%M} UTC on"
    if end:
        return f" before {end:%Y-%m-%d %H:%M} UTC"
    return ""


def check_spec(spec):
    """Raise PurgeInvalid if the spec does not fit the data; otherwise return what was loaded."""
    resolved = Resolved()
    scope = spec.scope
    if spec.member is not None:
        resolved.member = ChatUser.objects.filter(pk=spec.member).first()
        if resolved.member is None:
            raise PurgeInvalid(f"No chat user with id {spec.member} (member).", "member")

    if scope.kind == MESSAGES:
        rows = dict(Message.objects.filter(id__in=scope.ids).values_list("id", "conversation_id"))
        missing = [pk for pk in scope.ids if pk not in rows]
        if missing:
            raise PurgeInvalid(f"{len(missing)} of the message ids do not exist: {few(missing)}.", "ids")
        if scope.conversation is not None:
            home = _conversations([scope.conversation], "conversation")[scope.conversation]
            strays = [pk for pk, conversation in rows.items() if conversation != scope.conversation]
            if strays:
                raise PurgeInvalid(
                    f"{len(strays)} of the messages are not in conversation {home.external_id}: {few(strays)}.", "ids"
                )
        resolved.conversations = _conversations(sorted(set(rows.values())), "ids")
    elif scope.kind in (RANGE, CONVERSATION):
        resolved.conversations = _conversations([scope.conversation], "conversation")
    elif scope.kind == CONVERSATIONS:
        resolved.conversations = _conversations(list(scope.conversations), "conversations")
    elif scope.kind == USER:
        resolved.user = ChatUser.objects.filter(pk=scope.user).first()
        if resolved.user is None:
            raise PurgeInvalid(f"No chat user with id {scope.user}.", "user")
        if scope.conversations:
            resolved.conversations = _conversations(list(scope.conversations), "conversations")
    elif scope.kind == MATCHING:
        if scope.conversation is not None:
            resolved.conversations = _conversations([scope.conversation], "conversation")
    resolved.senders = _senders(list(spec.senders))

    problems = _one_way_problems(spec, resolved.conversations)
    if problems:
        if scope.kind != CONVERSATIONS or len(problems) == len(resolved.conversations):
            raise PurgeInvalid(" ".join(dict.fromkeys(problems.values())), "member" if spec.one_member else "scope")
        resolved.refused = problems
    resolved.target = target_label(spec, resolved)
    return resolved


def target_label(spec, resolved):
    scope = spec.scope
    names = [c.external_id for c in resolved.conversations.values()]
    if scope.kind == MESSAGES:
        where = f"conversation {names[0]}" if len(names) == 1 else f"{len(names)} conversations"
        label = f"{len(scope.ids)} message{'s' if len(scope.ids) != 1 else ''} in {where}"
    elif scope.kind == RANGE:
        label = f"conversation {names[0]}{_bounds_label(scope.start, scope.end)}"
    elif scope.kind == CONVERSATION:
        label = f"conversation {names[0]}"
    elif scope.kind == CONVERSATIONS:
        label = f"{len(names)} conversations ({few(names)})"
    elif scope.kind == MATCHING:
        label = f"messages matching “{scope.text}”" if scope.text else "messages"
        if resolved.senders:
            label += f" from {few(u.external_id for u in resolved.senders)}"
        if names:
            label += f" in conversation {names[0]}"
        label += _bounds_label(scope.start, scope.end)
    else:
        label = f"user {resolved.user.external_id}{_bounds_label(scope.start, scope.end)}"
        if names:
            label += f" in {few(names)}"
    if resolved.senders and scope.kind != MATCHING:
        label += f", sent by {few(u.external_id for u in resolved.senders)}"
    if resolved.member is not None:
        label += f", for member {resolved.member.external_id}"
    return label[:255]


def _resolve(model, external_ids, field_name, noun):
    external_ids = [str(x).strip() for x in external_ids]
    check_id_count(len(external_ids), field_name)
    found = dict(model.objects.filter(external_id__in=external_ids).values_list("external_id", "id"))
    missing = [x for x in dict.fromkeys(external_ids) if x not in found]
    if missing:
        raise PurgeInvalid(f"No {noun} with id {few(missing)}.", field_name)
    return [found[x] for x in external_ids]


def spec_from_external(data):
    """A PurgeSpec from the canonical dict shape written with the chat service's external ids
    (message, conversation and user ids as strings), as the CLI and API take them. Senders may
    also be named by their display names (senders_named)."""
    if not isinstance(data, dict) or not isinstance(data.get("scope"), dict):
        raise PurgeInvalid("The spec needs a scope object with a kind.", "scope")
    scope = dict(data["scope"])
    if isinstance(scope.get("ids"), list):
        scope["ids"] = _resolve(Message, scope["ids"], "ids", "message")
    if scope.get("conversation") not in (None, ""):
        scope["conversation"] = _resolve(Conversation, [scope["conversation"]], "conversation", "conversation")[0]
    if isinstance(scope.get("conversations"), list):
        scope["conversations"] = _resolve(Conversation, scope["conversations"], "conversations", "conversation")
    if isinstance(scope.get("senders"), list):
        scope["senders"] = senders_named(str(name) for name in scope["senders"])
    if scope.get("user") not in (None, ""):
        scope["user"] = _resolve(ChatUser, [scope["user"]], "user", "chat user")[0]
    resolved = dict(data, scope=scope)
    if data.get("member") not in (None, ""):
        resolved["member"] = _resolve(ChatUser, [data["member"]], "member", "chat user")[0]
    return spec_from_dict(resolved)
