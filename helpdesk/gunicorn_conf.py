"""gunicorn settings of a production app server: `gunicorn -c python:helpdesk.gunicorn_conf helpdesk.wsgi`.

WEB_CONCURRENCY worker processes (default 2, one per core) of GUNICORN_THREADS threads (default 4: a thread
waiting on a directory does not hold up the others). Each thread may hold one connection to the app's
database; the README's Production section gives the whole connection budget.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
