"""Install requirements/lock.txt into a virtual environment: with uv where it can be had, else with pip.

    python requirements/install.py VENV_PYTHON

Why uv: the lock is 265 exact pins (torch's CUDA build with its NVIDIA libraries: ≈ 5 GB unpacked);
pip unpacks and byte-compiles them one after the other (≈ 140 s here), uv in parallel (≈ 50 s). Both
install the same files from the same sources: the package sources pip is configured with (``pip
config list``: index-url, extra-index-url, find-links, from pip.conf or PIP_* variables) are passed to
uv, the extra indexes and local wheel folders first (``--index-strategy unsafe-first-match``: a
package is taken from the first source that has it, as a local mirror intends). Byte-compiled at
install (``--compile-bytecode``): with PYTHONDONTWRITEBYTECODE set, nothing compiles later and every
process would compile PyTorch's sources again on import.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

UV_VERSION = "0.13.9"
LOCK = Path(__file__).with_name("lock.txt")
# pip option → uv option (the same meaning in both tools)
PIP_TO_UV = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links"}


def pip_sources(python: str) -> list[str]:
    """uv's flags for the package sources that ``python``'s pip is configured with. As in pip, PIP_*
    variables (listed as ``:env:.option``) override the configuration files, later files earlier ones."""
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False).stdout
    values: dict[str, str] = {}
    # e.g. global.extra-index-url='file:///a file:///b' or :env:.find-links='/w'; the variables last, so they win
    for line in sorted(listed.splitlines(), key=lambda line: line.startswith(":env:.")):
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in PIP_TO_UV:
            values[option] = value.strip().strip("'\"")
    flags = []
    for option, flag in PIP_TO_UV.items():
        for value in values.get(option, "").split():
            flags += [flag, value]
    return flags


def run(cmd: list[str]) -> bool:
    """Run ``cmd``; False if it fails or cannot be started."""
    print("+ " + shlex.join(cmd), flush=True)
    try:
        return subprocess.run(cmd, check=False).returncode == 0
    except OSError as exc:
        print(f"requirements/install.py: {exc}", file=sys.stderr, flush=True)
        return False


def main(python: str) -> int:
    uv = str(Path(python).with_name("uv"))
    if run([python, "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"]):
        uv_cmd = [uv, "pip", "install", "-q", "--python", python, "--no-deps", "--compile-bytecode",
                  "--index-strategy", "unsafe-first-match", *pip_sources(python), "-r", str(LOCK)]  # fmt: skip
        if run(uv_cmd):
            return 0
        print("requirements/install.py: uv failed; installing with pip instead", file=sys.stderr, flush=True)
    else:
        print(f"requirements/install.py: uv {UV_VERSION} could not be installed; using pip", file=sys.stderr, flush=True)
    return 0 if run([python, "-m", "pip", "install", "-q", "--no-deps", "-r", str(LOCK)]) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
