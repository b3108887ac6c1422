"""Staff accounts on the web: the login page, failed-login throttling (django-axes), login
audit entries, and API tokens."""
