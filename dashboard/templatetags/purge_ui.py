"""Template helpers of the deletion workflow.

    {% conversation_offer conversation as offer %}   what the current user may request there
    {% purge_tools conversation %}                  the range and whole-conversation forms
    {% selection_form conversation as form %}       the timeline's "selected messages" form
    {% batch_form as form %}                        the conversation list's batch form, or None
    {% erasure_form chat_user as form %}            a user's erasure form, or None
    {{ sample.sent_at|iso_moment }}                 an ISO 8601 string from a preview as a datetime
    {{ purge|effect_label }}                        "Delete for everyone", "Hide for one member", ...
    {{ seconds|duration }}                          "2 min 5 s"

The offers come from the permission matrix (dashboard.web.purge.offers.ConversationOffer), computed once
per template render and cached on the request.
"""

from datetime import datetime

from django import template

from dashboard.web.purge.conversation_forms import ConversationForm, RangeForm, SelectionForm
from dashboard.web.purge.forms import BatchForm, UserForm
from dashboard.web.purge.offers import ConversationOffer, may_batch_delete, may_erase

register = template.Library()


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag(takes_context=True)
def conversation_offer(context, conversation):
    request = context.get("request")
    cache = getattr(request, "_purge_offers", None) if request is not None else None
    if cache is None:
        cache = {}
        if request is not None:
            request._purge_offers = cache
    if conversation.pk not in cache:
        cache[conversation.pk] = ConversationOffer.build(_user(context), conversation)
    return cache[conversation.pk]


@register.simple_tag(takes_context=True)
def selection_form(context, conversation):
    offer = conversation_offer(context, conversation)
    return SelectionForm(conversation=conversation, offer=offer) if offer.selection else None


@register.inclusion_tag("purge/tools.html", takes_context=True)
def purge_tools(context, conversation):
    offer = conversation_offer(context, conversation)
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "conversation": conversation,
        "offer": offer,
        "forms": {
            "range": RangeForm(conversation=conversation, offer=offer) if offer.range else None,
            "conversation": ConversationForm(conversation=conversation, offer=offer) if offer.whole else None,
        },
    }


@register.simple_tag(takes_context=True)
def batch_form(context):
    return BatchForm() if may_batch_delete(_user(context)) else None


@register.simple_tag(takes_context=True)
def erasure_form(context, chat_user):
    return UserForm(chat_user=chat_user) if may_erase(_user(context)) else None


@register.filter
def iso_moment(value):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@register.filter
def effect_label(purge):
    """The effect of a PurgeRequest (or its spec dict) in words."""
    spec = purge.spec if hasattr(purge, "spec") else purge
    effect, member = spec.get("effect"), spec.get("member")
    if effect == "hide_for_user":
        scope = spec.get("scope", {})
        if scope.get("kind") == "conversation":
            return "Clear history for one member"
        if scope.get("kind") == "range" and not scope.get("start") and not scope.get("senders"):
            return "Clear history before a moment for one member"
        return "Hide for one member"
    if effect == "delete_conversation":
        if member:
            return "Remove conversation for one member" + (", clearing their history" if spec.get("clear_history") else "")
        return "Delete conversation for everyone"
    if effect == "delete_for_everyone":
        return "Erase a user's messages" if spec.get("scope", {}).get("kind") == "user" else "Delete for everyone"
    if effect == "delete_attachments":
        return "Delete only the attachments"
    return effect or ""


@register.filter
def duration(seconds):
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
