"""The HTML pages, a package per feature (browse, purge, oversight, erasure, accounts), and what
they all share beside them: guards.py (the guard decorator, the client address, job links) and the
site-wide middleware, caching and CSP exception that settings name. The rules are chatdata's: a
view parses, asks the domain, and renders."""
