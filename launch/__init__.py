"""Process plumbing, apart from the web: how chatsweep's processes are started and stopped.

demo.py is `./chatsweep demo` (set up, then run the web server, an RQ worker and RQ's cron as
children, and stop them all); embedded_redis.py is the Redis those processes share when REDIS_URL
is unset; apps.py joins or starts that Redis for the `manage.py` commands that may talk to RQ.
Nothing in dashboard/ or chatdata/ imports this package: settings name it as an app, by string.
"""
