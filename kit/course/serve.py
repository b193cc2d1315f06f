"""``kit serve``: Voila on the address it says, stopped whole when asked.

* The port is checked before Voila starts: a port in use moves to the next free one,
  and the address printed is the one Voila serves on (Voila itself is told not to
  move again).
* Voila runs in a process group of its own; SIGTERM, SIGHUP and Ctrl-C to ``kit
  serve`` stop Voila, its kernels and anything else it started — never a Voila left on
  its port with its kernels.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

STOP_GRACE_SECONDS = 10


def free_port(ip: str, first: int, tries: int = 50) -> int:
    """``first`` if nothing listens there, else the next free port (``tries`` at most)."""
    from kit.errors import ParameterError

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    for port in range(first, min(first + tries, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((ip, port))
            except OSError:
                continue
            return port
    raise ParameterError(f"--port {first}: it and the {tries - 1} after it are in use on {ip}; choose another port")


def run_voila(cmd: list, env: dict) -> int:
    """Run Voila until it ends or this process is told to stop; then stop all of it."""
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, start_new_session=True)
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP) if hasattr(signal, "SIGHUP")}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("kit: stopping Voila and its kernels", file=sys.stderr)
        return 128 + (stopping[0] if stopping else signal.SIGINT)
    finally:
        _stop(proc)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to Voila's process group (Voila shuts its kernels down), then SIGKILL to
    whatever of it is left: the group, and kernels in sessions of their own."""
    import psutil  # a dependency of ipykernel

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    for child in family:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(family, timeout=3)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
