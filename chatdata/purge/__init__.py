"""The deletion engine (DESIGN.md §2-§5). Where to look:

- scopes      PurgeSpec and the scope/effect value objects, their canonical JSON
- inputs      PurgeInvalid and the readers of a scope's fields (parse_pk, parse_moment, check_bounds...)
- validation  check_spec (against the database), spec_from_external (external ids -> PurgeSpec)
- preview     compute_preview (read-only, exact COUNTs), affected_per_day (histogram), COUNT_KEYS;
              counting: count_rows and InScope, many counts in one statement
- actions     do_preview/execute/approve/reject/cancel/resume/close_purge, do_preview_again: the only writers
              transitions: the steps they share (audit, lock, holds, starting a run, the recount)
- refusals    PurgeRefused and the *_refusal rules the actions refuse by and the pages show buttons by
- staleness   previews expire (PURGE_PREVIEW_TTL); confirming recounts and asks again when the scope changed
- remainder   what a cancelled request did per conversation and left; resuming (new approval?) or closing it
- execute     the batch protocol: checkpoints, cancel at batch boundaries, fencing of stale workers
- units       one step inside a unit: a batch (capped at the preview's count) or the unit's finishing work
- effects     the writes of each batch; statements: their SQL; latest: last_message_at after a batch
- sync        SyncEvent payloads; outbox: attachment file removal
- holds       legal holds: do_add_legal_hold, do_release_legal_hold, holds_meeting
- predicates  scope_messages (what is counted is what is run), holds_for (the holds binding a request)
- jobs        RQ job functions; serialize: purge_json (the CLI's and the API's JSON)
- selection   selections in progress, kept per staff member and conversation until used or cleared
Permissions live in chatdata.permissions, the audit log in chatdata.audit.
"""
