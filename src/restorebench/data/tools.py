"""System tools the embedded corpus needs, with the install command to print when one is missing."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: executable -> Debian package providing it
SYSTEM_TOOLS = {
    "espeak-ng": "espeak-ng",
    "text2wave": "festival festvox-kallpc16k",
    "fluidsynth": "fluidsynth",
}


class MissingToolError(RuntimeError):
    """A system program or optional library the step needs is not installed (the message says how to install it)."""


def install_command(packages: str) -> str:
    return f"sudo apt-get update && sudo apt-get install -y {packages}"


def require_tool(name: str) -> str:
    """Path of executable ``name``, or MissingToolError naming the exact install command."""
    path = shutil.which(name)
    if path is None:
        packages = SYSTEM_TOOLS.get(name, name)
        raise MissingToolError(f"'{name}' is not installed; it is needed to build the embedded corpus. "
                               f"Install it with: {install_command(packages)}   (or run 'make setup')")
    return path


def run_tool(args: list[str], what: str, stdin: bytes | None = None) -> None:
    """Run a system tool; on failure raise with its stderr and the command line."""
    require_tool(args[0])
    proc = subprocess.run(args, input=stdin, capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(args)}\n"
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")


def soundfont_path() -> Path:
    """The General MIDI soundfont TimGM6mb.sf2 shipped inside the pretty_midi wheel."""
    import pretty_midi

    path = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
    if not path.is_file():
        raise FileNotFoundError(f"soundfont not found at {path}; reinstall pretty_midi (pip install "
                                f"--force-reinstall pretty_midi)")
    return path
