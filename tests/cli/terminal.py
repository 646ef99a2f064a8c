"""Run the command line in a pseudo-terminal of a given width and read what it showed."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

# SGR colours, cursor show/hide and other private modes: they take no columns
_INVISIBLE = re.compile(r"\x1b\[[0-9;?]*[mlh]")
_CONTROL = re.compile(r"\x1b\[([0-9]*)([AK])|\r|\n")


def run_in_terminal(
    args: list[str], cwd: Path, columns: int = 80, timeout: float = 300
) -> tuple[int, str]:
    """Run ``python -m glmspec ARGS`` with stdout and stderr on a pseudo-terminal of
    ``columns`` columns; return the exit status and every byte it wrote (decoded)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, COLUMNS=str(columns), LINES="24", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmspec", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal (EIO on Linux)
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def screen(raw: str) -> tuple[list[str], int]:
    """Replay ``raw`` on an endless screen of unlimited width (carriage return, newline,
    erase line, cursor up); return the final lines and the widest text ever drawn on one
    line (anything wider than the terminal would have wrapped there)."""
    text = _INVISIBLE.sub("", raw)
    lines, row, col, widest = [""], 0, 0, 0
    position = 0
    for match in _CONTROL.finditer(text + "\n"):
        piece = text[position : match.start()] if match.start() <= len(text) else ""
        if piece:
            line = lines[row]
            line = line[:col].ljust(col) + piece + line[col + len(piece) :]
            lines[row] = line
            col += len(piece)
            widest = max(widest, col)
        token = match.group(0)
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif match.group(2) == "K":
            lines[row] = ""  # rich erases the whole line (2K) before redrawing it
        elif match.group(2) == "A":
            row = max(0, row - int(match.group(1) or 1))
        position = match.end()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, widest
