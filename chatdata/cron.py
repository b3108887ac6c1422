"""What `manage.py rqcron chatdata.cron` enqueues on a schedule (RQ's cron; a worker runs the jobs).

Exactly one such process per deployment: two would only witness the head twice a minute.
"""

from rq import cron

from chatdata.witness import witness_job

# Every minute, idle or not (chatdata.witness). A run still waiting after 90 s (every worker busy
# with a long purge) is dropped: the next one is already queued behind it.
cron.register(witness_job, "default", interval=60, ttl=90, result_ttl=300, failure_ttl=7 * 24 * 3600)
