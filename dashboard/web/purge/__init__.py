"""The deletion workflow on the web: choose a scope, preview, confirm (views, forms, confirm,
offers, panel), delete what a search found (matching), and the purge requests as jobs with live
progress (jobs)."""
