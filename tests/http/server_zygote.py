"""A server factory for the crash test: imports the app once, then forks a fresh server per request.

Importing Licheng takes seconds on a small machine; forking a process that has
already imported it takes milliseconds. Each child is a whole server: it
builds the app from the environment (`Settings()`) and runs it under uvicorn,
exactly as `licheng serve` does, until the test kills it with SIGKILL.

Protocol on stdin/stdout, one line each: "serve PORT LOGFILE" -> "PID", and
"run OUTFILE ERRFILE ARGS..." -> the exit code of `licheng ARGS` (run in a
forked child too). Children are reaped automatically. EOF on stdin ends it.
"""

from __future__ import annotations

import os
import signal
import sys

from licheng.app import create_app  # noqa: F401 - imported before forking, the point of this file
from licheng.cli import _serve
from licheng.settings import Settings


def _run(out: str, err: str, args: list[str]) -> int:
    """`licheng ARGS` in a forked child, output to files; its exit code."""
    from licheng.cli import main as cli

    done_r, done_w = os.pipe()
    if os.fork() == 0:
        os.close(done_r)
        for target, path in ((1, out), (2, err)):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), target)
        code = 0
        try:
            cli(args=args, prog_name="licheng")
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            code = 3
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(done_w, str(code).encode())
        os._exit(0)
    os.close(done_w)
    with os.fdopen(done_r, "rb") as done:
        return int(done.read() or b"3")


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "run":
            print(_run(rest[0], rest[1], rest[2:]), flush=True)
            continue
        assert command == "serve"
        port, log = rest
        pid = os.fork()
        if pid == 0:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _serve(Settings(), "127.0.0.1", int(port))
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
