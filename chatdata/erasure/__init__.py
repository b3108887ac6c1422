"""Erasure requests (DESIGN.md §5): from a data subject's request to a signed certificate.

- actions      do_open/approve/reject/cancel/resume_erasure and their `*_refusal` helpers: the only writers
- run          the erasure job's protocol and state changes; steps: its phases (the purges, the
               subject's data elsewhere, pseudonym and tombstone, the check)
- elsewhere    what is the subject's outside their own messages (reactions, hides, deliveries, memberships)
- residue      the independent residue check (its own queries, not the engine's predicates)
- certificate  the signed certificate: build, sign, verify, and the context of its printable page
- export       the subject's data export (ZIP), streamed
- tombstones   keyed hashes of erased external ids; the import's screen against them (screen)
- overview     pending, due soon, overdue: the compliance overview's and the home page's reads
- serialize    an ErasureRequest as one JSON object (the CLI's --json, the API)
The models live in chatdata.models.erasure; who may do what in chatdata.permissions.
"""
