"""Oversight: the approvals queue, legal holds, the audit log, and their forms."""
