import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count

from chatdata.models import Attachment, ChatUser, Conversation, Membership, Message, MessageHide, PendingDelivery, Reaction
from chatdata.parsing import argparse_type, parse_count
from chatdata.seed import SeedPlan, load
from chatdata.seed.reset import chat_row_counts, has_chat_data, reset_blockers, reset_chat_data

DEFAULTS = SeedPlan()
LABELS = {
    ChatUser: "chat users",
    Conversation: "conversations",
    Membership: "memberships",
    Message: "messages",
    Reaction: "reactions",
    Attachment: "attachments",
    MessageHide: "message hides",
    PendingDelivery: "pending deliveries",
}


class Command(BaseCommand):
    help = (
        "Fill the chat tables with deterministic, realistic demo data: the same --seed always gives the "
        "same rows, ids, timestamps and attachment files. Refuses when chat data exists unless --reset. "
        "On PostgreSQL it loads through COPY."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=argparse_type(parse_count, "--users"), default=DEFAULTS.users, help=f"chat users (default {DEFAULTS.users})")
        parser.add_argument("--conversations", type=argparse_type(parse_count, "--conversations"), default=DEFAULTS.conversations, help=f"conversations (default {DEFAULTS.conversations})")
        parser.add_argument("--messages", type=argparse_type(parse_count, "--messages"), default=DEFAULTS.messages, help=f"messages (default {DEFAULTS.messages})")
        parser.add_argument("--seed", type=argparse_type(parse_count, "--seed"), default=DEFAULTS.seed, help=f"random seed (default {DEFAULTS.seed})")
        parser.add_argument(
            "--reset", action="store_true",
            help="first delete all chat data and its attachment files (staff accounts and audit entries are kept)",
        )

    def handle(self, *args, **options):
        plan = SeedPlan(users=options["users"], conversations=options["conversations"], messages=options["messages"], seed=options["seed"])
        if problems := plan.problems():
            raise CommandError("; ".join(problems) + ".")
        started = time.perf_counter()
        if has_chat_data():
            if not options["reset"]:
                counts = chat_row_counts()
                held = ", ".join(f"{n:,} {LABELS.get(model, model._meta.verbose_name_plural)}" for model, n in counts.items() if n)
                raise CommandError(
                    f"The database already holds chat data ({held}). Nothing was changed. "
                    "Run with --reset to replace it (deletes all chat data and its attachment files)."
                )
            if blockers := reset_blockers():
                raise CommandError(f"Cannot reset: other records still refer to chat data: {'; '.join(blockers)}. Nothing was changed.")
            removed = reset_chat_data()
            self.stdout.write(f"Removed the existing chat data ({sum(removed.values()):,} rows) and its attachment files "
                              f"in {time.perf_counter() - started:.1f} s.")
        loaded = time.perf_counter()
        counts, files, timings = load(plan)
        self._summary(plan, counts, files, timings, time.perf_counter() - loaded)

    def _summary(self, plan, counts, files, timings, elapsed):
        method = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {counts[Message]:,} messages in {elapsed:.1f} s "
            f"({connection.vendor}, {method}; seed {plan.seed}, data up to {plan.now:%Y-%m-%d %H:%M} UTC)."
        ))
        kinds = dict.fromkeys(Conversation.Kind.values, 0)
        kinds.update(Conversation.objects.order_by().values_list("kind").annotate(n=Count("id")))
        for model, label in LABELS.items():
            line = f"  {label:<20} {counts[model]:>10,}"
            if model is Conversation:
                line += "  (" + ", ".join(f"{kind} {n:,}" for kind, n in kinds.items()) + ")"
            self.stdout.write(line)
        self.stdout.write(f"  {'attachment files':<20} {len(files.names):>10,}  ({files.bytes / 1024:,.0f} KiB in media storage)")
        self.stdout.write("  time: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()))

