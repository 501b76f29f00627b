"""The schema is the contract: schemathesis against a live server on PostgreSQL.

    .venv/bin/python bench/api_fuzz.py                  # what CI runs (.ci/run)
    .venv/bin/python bench/api_fuzz.py --max-examples 20 --keep

Steps: a fresh database (omnis_fuzz: dropped and created), migrate, the demo retailer
(`seed_demo`: stores, stock, customers, orders in each state, reservations, returns, the demo
API clients and staff logins), a token for the manager; gunicorn on a free 127.0.0.1 port
(DEBUG off, throttles and the login lock-out raised for this server only); then `st run` against
/api/schema/ twice, side by side: as the webshop's API client and as the manager. Every response
must match the published schema (status code, content type, headers, body) and no request may
answer 5xx or accept data the schema forbids. The server is always stopped. Exit status 0 only
when both runs found nothing. Their output is printed when they end (and kept in tmp/).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BIN = Path(sys.executable).parent

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)

# The fuzzing server only: no throttling (schemathesis sends hundreds of requests a minute) and
# no lock-out of the token endpoint (it is fuzzed with wrong passwords).
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DJANGO_DEBUG": "0",
    "OMNIS_THROTTLE_CLIENT": "1000000/min",
    "OMNIS_THROTTLE_CUSTOMER": "1000000/min",
    "OMNIS_THROTTLE_STAFF": "1000000/min",
    "OMNIS_THROTTLE_ANON": "1000000/min",
    "OMNIS_THROTTLE_LOGIN": "1000000/min",
    "AXES_FAILURE_LIMIT": "1000000",
    "CELERY_BROKER_URL": "",  # tasks run in-process
    "REDIS_URL": "",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "SMS_BACKEND": "common.sms.ConsoleBackend",
    "CONN_MAX_AGE": "60",
}


def admin_sql(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped before it answered.")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s.")


MANAGER_TOKEN = (
    "from django.contrib.auth import get_user_model; from common.auth import issue_user_token; "
    "print(issue_user_token(get_user_model().objects.get(username='manager')))"
)
WEBSHOP_KEY = (
    "from common.management.commands.seed_demo import demo_api_key; print(demo_api_key('webshop'))"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="omnis_fuzz", help="dropped and created")
    parser.add_argument("--max-examples", type=int, default=5, help="test cases per operation")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis' random seed")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--only", choices=["client", "staff"], help="one of the two runs")
    args = parser.parse_args(argv)
    if args.database in ("postgres", "omnis"):
        raise SystemExit(f"{args.database} is not a scratch database (it would be dropped).")

    started = time.monotonic()
    env = os.environ | SERVER_ENV | {"DATABASE_URL": f"{DEFAULT_SERVER}/{args.database}"}
    admin_sql(
        DEFAULT_SERVER,
        f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)',
        f'CREATE DATABASE "{args.database}"',
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    print(f"  migrated {args.database} in {time.monotonic() - started:.0f} s", flush=True)
    manage(env, "seed_demo", "--products", "20", "--customers", "20", "--verbosity", "0")
    callers = {
        "client": f"Token {last_line(manage(env, 'shell', '-c', WEBSHOP_KEY))}",
        "staff": f"Token {last_line(manage(env, 'shell', '-c', MANAGER_TOKEN))}",
    }
    print(f"  seeded {args.database} in {time.monotonic() - started:.0f} s", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = ROOT / "tmp" / "api_fuzz-server.log"
    server_log.parent.mkdir(exist_ok=True)
    log = server_log.open("w")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", f"--bind=127.0.0.1:{port}", "--workers=2"]
        # Any length of URL reaches Django (the proxy in front limits it in production).
        + ["--timeout=60", "--log-level=warning", "--limit-request-line=0"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    print(f"  gunicorn on {base}, its log: {server_log.relative_to(ROOT)}", flush=True)
    failed = []
    runs: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        wait_until_up(f"{base}/api/schema/", server)
        run_started = time.monotonic()
        # Both callers at once: each run waits on the server most of the time.
        for name, authorization in callers.items():
            if args.only and name != args.only:
                continue
            command = [
                str(BIN / "st"),
                "run",
                f"{base}/api/schema/",
                f"--url={base}",
                f"--checks={CHECKS}",
                f"--max-examples={args.max_examples}",
                "--phases=examples,coverage,fuzzing",
                # One worker: with two threads, Python 3.11's ast.parse (used by hypothesis to
                # describe strategies) can fail with "AST constructor recursion depth mismatch".
                "--workers=1",
                "--request-timeout=30",
                "--no-shrink",
                "--suppress-health-check=all",
                "--warnings=off",
                f"--header=Authorization:{authorization}",
            ]
            if name == "staff":
                # The staff token must live through the run (logout would revoke it); the token
                # endpoint takes no token and is fuzzed in the client's run.
                command.append("--exclude-path-regex=^/api/v1/auth/")
            if args.seed is not None:
                command.append(f"--seed={args.seed}")
            output = ROOT / "tmp" / f"api_fuzz-{name}.log"
            with output.open("w") as out:
                runs[name] = (
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=os.environ | {"NO_COLOR": "1"},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    ),
                    output,
                )
        for name, (run, output) in runs.items():
            returncode = run.wait()
            print(f"== schemathesis as the {name} ==", flush=True)
            print(output.read_text(), flush=True)
            print(f"  {name}: done after {time.monotonic() - run_started:.0f} s", flush=True)
            if returncode != 0:
                failed.append(name)
    finally:
        for run, _ in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        if not args.keep:
            admin_sql(DEFAULT_SERVER, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')

    print(f"  schemathesis step: {time.monotonic() - started:.0f} s in all", flush=True)
    if failed:
        print(f"API FUZZING FAILED as: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("Every response matched the published schema.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
