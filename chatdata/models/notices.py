"""How far each staff member has read their notices (issue 14, item 6; chatdata.notices).

The notices themselves are not stored: they are the audit log's entries about one's own requests
(approved, rejected, finished, failed...), so this row only keeps the newest entry id the person
has marked as read. It is a person's own reading state, like a selection: not audited.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class NoticeCursor(models.Model):
    staff = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The newest AuditEntry id read (entries are append-only and their ids only grow).
    read_up_to = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"notices of staff #{self.staff_id} read up to entry #{self.read_up_to}"
