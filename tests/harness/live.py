"""Starting fixture programs, and the ``live`` one, which prints ``READY pid=N`` once every
goroutine is parked and then waits to be attached to."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from typing import Callable, Mapping

from tests.harness.fixture import Fixture

READY = re.compile(rb"READY pid=(\d+)")


def start_program(
    fx: Fixture,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Starts the fixture's program in its directory with its stdout on a pipe, stdin and
    stderr closed off; `env` replaces the environment, `preexec_fn` runs in the child before
    the program (e.g. to set a resource limit)."""
    return subprocess.Popen(
        [str(fx.bin)],
        cwd=fx.dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=None if env is None else dict(env),
        preexec_fn=preexec_fn,
    )


def start_live(fx: Fixture, timeout: float = 60) -> tuple[subprocess.Popen[bytes], int]:
    """Starts the fixture's program and waits for its ``READY pid=N`` line; returns the
    process and N. Fails, with what the program printed, when it exits or stays silent."""
    proc = start_program(fx)
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        seen += chunk
        match = READY.search(seen)
        if match:
            return proc, int(match.group(1))
    proc.kill()
    proc.wait()
    raise AssertionError(f"{fx.id}: live program printed no READY line:\n{seen.decode()}")
