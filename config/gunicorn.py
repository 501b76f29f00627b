"""gunicorn settings for `make prod`, the Procfile and the systemd unit (docs/operations.md)."""

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

bind = [f"{os.environ.get('BIND_ADDRESS', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
# WEB_CONCURRENCY overrides; otherwise the usual 2 × cores + 1 sync workers.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Recycle workers now and then (slow leaks), not all at once: the jitter spreads the restarts.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 1000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 100))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM a worker finishes the request it is serving (an order being placed) first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5
# Django writes one access line per request (JSON in production); gunicorn's would repeat it.
accesslog = None
errorlog = "-"
# The runtime control socket defaults to one path per user: two instances would share it.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Each worker writes its metrics to files here and /metrics adds them up; without this every
# scrape would see the counters of whichever worker answered. Emptied at each start.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / f"omnis-metrics-{os.getpid()}")
)


def on_starting(server):
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ["PROMETHEUS_MULTIPROC_DIR"].endswith(f"omnis-metrics-{os.getpid()}"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
