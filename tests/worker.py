"""Real Celery workers for tests: a subprocess on its own queue, e-mails written to files."""

import email
import email.policy
import os
import subprocess
import sys
import uuid
from pathlib import Path

import kombu.pools
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def sent_messages(folder: Path) -> list[email.message.EmailMessage]:
    """The messages the file-based backend wrote (several per file, split by a dashed line)."""
    messages = []
    for path in folder.glob("*.log"):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def forget_broker_setup() -> None:
    """Celery caches queues, routes and connections on first use: start afresh from the conf."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)
    # kombu keeps producer pools per connection in a global registry; a pool left there would
    # hand out the connections closed above (even eager calls acquire a producer).
    kombu.pools.reset()


class send_to_broker:
    """Within the block this test process queues tasks on `broker_url` instead of running them."""

    def __init__(self, broker_url: str, queue: str) -> None:
        self.conf = {
            "task_always_eager": False,
            "broker_url": broker_url,
            "task_default_queue": queue,
        }

    def __enter__(self):
        self.previous = {key: celery_app.conf[key] for key in self.conf}
        celery_app.conf.update(self.conf)
        forget_broker_setup()
        return self

    def __exit__(self, *exc) -> None:
        celery_app.conf.update(self.previous)
        forget_broker_setup()


class Worker:
    """`celery worker` in a subprocess on one queue; start, kill and start again."""

    def __init__(self, tmp_path: Path, broker_url: str, **env) -> None:
        self.queue = f"omnis-test-{uuid.uuid4().hex[:8]}"
        self.broker_url = broker_url
        self.mail_dir = tmp_path / "mails"
        self.mail_dir.mkdir(exist_ok=True)
        self.log_path = tmp_path / "worker.log"
        self.env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "CELERY_BROKER_URL": broker_url,
            "DATABASE_URL": database_url(),
            "CONN_MAX_AGE": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        celery = Path(sys.executable).parent / "celery"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(celery), "-A", "config", "worker", "--pool=solo", "-c", "1", "-Q", self.queue]
                + [
                    "--loglevel=info",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, the task in hand is neither finished nor acknowledged."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def messages(self) -> list[email.message.EmailMessage]:
        return sent_messages(self.mail_dir)
