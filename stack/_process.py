"""Detached child processes, pid files and ports: the POSIX plumbing of the stack.

Processes are spawned with ``os.posix_spawn`` in a new session rather than with
``subprocess.Popen``: they must outlive the Python process that starts them, and a
``Popen`` object for a process that is meant to keep running warns when it is collected.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "command_line",
    "display_path",
    "exit_code",
    "is_alive",
    "is_listening",
    "read_pid",
    "spawn_detached",
    "terminate",
]

# Exit codes of children this process has reaped, by pid (waitpid can be called only once).
_exit_codes: dict[int, int] = {}


def spawn_detached(argv: list[str], log_path: Path, env: Mapping[str, str]) -> int:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``.

    Args:
        argv: The command; ``argv[0]`` must be an absolute path.
        log_path: The file that receives the process's output.
        env: The process's environment.

    Returns:
        The pid of the new process, which is also its process group and session id.
    """
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    # Python ignores SIGPIPE and SIGXFSZ; like subprocess' restore_signals, give the child
    # the default dispositions back.
    pid = os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=file_actions,
        setsid=True,
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
    )
    _exit_codes.pop(pid, None)
    return pid


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is an exited child of this process."""
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if waited == pid:
        _exit_codes[pid] = os.waitstatus_to_exitcode(status)


def exit_code(pid: int) -> int | None:
    """The exit code of ``pid`` if it was started by this process and has exited.

    Negative codes mean the process was killed by that signal, as in ``subprocess``.
    """
    _reap(pid)
    return _exit_codes.get(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[0] == "Z"


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (an exited, unreaped one does not count)."""
    if exit_code(pid) is not None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def command_line(pid: int) -> list[str]:
    """The arguments ``pid`` was started with, or an empty list if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return _command_line_from_ps(pid)
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _command_line_from_ps(pid: int) -> list[str]:
    """Fallback for systems without /proc (macOS); the words lose their exact boundaries."""
    if not Path("/proc").is_dir():
        result = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.split()
    return []


def read_pid(pid_path: Path) -> int | None:
    """The pid stored in ``pid_path``, or None if the file is missing or garbled."""
    try:
        return int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return None


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Send ``signum`` to the process group ``pid`` leads, or to ``pid`` alone if it leads none."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _wait_until_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Poll until every pid has exited or ``timeout`` passed; return those still alive."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if is_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if is_alive(pid)]
    return alive


def terminate(pids: Iterable[int], grace: float) -> None:
    """Stop processes: SIGTERM to each one's group, then SIGKILL to what outlives ``grace``.

    All processes get SIGTERM first, so they shut down in parallel.
    """
    pids = list(pids)
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    for pid in _wait_until_gone(pids, grace):
        _signal_group(pid, signal.SIGKILL)
    _wait_until_gone(pids, 5.0)


def is_listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
