#!/usr/bin/env python3
"""A throw-away PostgreSQL 15 server for the tests (ctest fixture).

    postgresql.py start STATE_FILE   initdb in a new /tmp directory, start the
                                     server on 127.0.0.1 and a free port, and
                                     write {"dir", "url", "pid"} to STATE_FILE
    postgresql.py stop STATE_FILE    stop it (fast, then immediate) and remove
                                     the directory and STATE_FILE
    postgresql.py restart STATE_FILE stop it (fast: sessions are cut) and start
                                     it again on the same port and data

The server runs as the unprivileged user `postgres` when started by root
(initdb refuses root), trusts local connections (nothing leaves loopback),
and trades durability for speed: fsync and synchronous_commit are off, since
the data lives only as long as the test run. A server left by a killed run
is stopped by the next start.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def bindir():
    for candidate in ("/usr/lib/postgresql/15/bin",):
        if os.path.exists(os.path.join(candidate, "pg_ctl")):
            return candidate
    try:
        return subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sys.exit("postgresql.py: PostgreSQL 15 is not installed (scripts/setup installs "
                 "postgresql-15)")


def as_server_user(argv):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(state_file):
    try:
        with open(state_file) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return
    data = os.path.join(state["dir"], "data")
    if os.path.exists(data):
        for mode in ("fast", "immediate"):
            r = subprocess.run(as_server_user([os.path.join(bindir(), "pg_ctl"), "-D", data,
                                               "-m", mode, "-w", "-t", "20", "stop"]),
                               capture_output=True, text=True)
            if r.returncode == 0 or "No such file" in r.stderr or "not running" in r.stderr:
                break
    shutil.rmtree(state["dir"], ignore_errors=True)
    os.unlink(state_file)


def start(state_file):
    stop(state_file)  # one left by a killed run
    top = tempfile.mkdtemp(prefix="vnet-pg.")
    data = os.path.join(top, "data")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(top, user.pw_uid, user.pw_gid)
    os.chmod(top, 0o755)
    subprocess.run(as_server_user([os.path.join(bindir(), "initdb"), "-D", data, "-U", "vnet",
                                   "--auth=trust", "--no-sync", "-E", "UTF8",
                                   "--locale=C"]),
                   check=True, capture_output=True, text=True)
    port = free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={top} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
               "-c max_connections=400 -c shared_buffers=64MB")
    log = os.path.join(top, "server.log")
    r = subprocess.run(as_server_user([os.path.join(bindir(), "pg_ctl"), "-D", data, "-l", log,
                                       "-o", options, "-w", "-t", "60", "start"]),
                       capture_output=True, text=True)
    if r.returncode != 0:
        try:
            print(open(log).read(), file=sys.stderr)
        except OSError:
            pass
        sys.exit(f"postgresql.py: the server did not start: {r.stderr.strip()}")
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    url = f"postgresql://vnet@127.0.0.1:{port}/postgres"
    with open(state_file + ".tmp", "w") as f:
        json.dump({"dir": top, "url": url, "pid": pid, "bindir": bindir(),
                   "data": data, "options": options, "log": log}, f)
    os.replace(state_file + ".tmp", state_file)
    print(f"PostgreSQL at {url} (pid {pid}, {top})")


def restart(state_file):
    with open(state_file) as f:
        state = json.load(f)
    r = subprocess.run(as_server_user([os.path.join(state["bindir"], "pg_ctl"), "-D",
                                       state["data"], "-l", state["log"], "-o", state["options"],
                                       "-m", "fast", "-w", "-t", "60", "restart"]),
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"postgresql.py: restart failed: {r.stderr.strip()}")


def main():
    commands = {"start": start, "stop": stop, "restart": restart}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit("usage: postgresql.py start|stop|restart STATE_FILE")
    t0 = time.monotonic()
    commands[sys.argv[1]](os.path.abspath(sys.argv[2]))
    print(f"postgresql.py {sys.argv[1]}: {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
