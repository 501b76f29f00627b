"""`python -m config.preflight`: refuse to start production with a variable missing.

Run by `make prod` before anything else, so the answer is one clear line rather than a traceback
from whichever of the three processes happens to start first.
"""

import os
import sys
from pathlib import Path

REQUIRED = {
    "DATABASE_URL": "postgres://user:password@host:5432/omnis",
    "CELERY_BROKER_URL": "redis://host:6379/0 or amqp://user:password@host:5672//",
    "REDIS_URL": "redis://host:6379/1 (the shared cache)",
    "SECRET_KEY": "at least 50 random characters",
    "ALLOWED_HOSTS": "backoffice.example.com (comma-separated)",
}


def missing(environ=os.environ) -> list[str]:
    return [name for name in REQUIRED if not environ.get(name, "").strip()]


def main() -> int:
    absent = missing()
    if absent:
        print("make prod: cannot start, these environment variables are not set:", file=sys.stderr)
        for name in absent:
            print(f"  {name}  e.g. {REQUIRED[name]}", file=sys.stderr)
        print("See docs/operations.md, 'Configuration'.", file=sys.stderr)
        return 1
    schedule = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME")
    folder = Path(schedule).parent if schedule else Path(__file__).resolve().parents[1] / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
