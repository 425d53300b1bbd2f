"""`dvc pull` for the Snakemake study: restore results, explain failures, fix file times.

    python scripts/dvc/pull.py [-r REMOTE] [other `dvc pull` options]     (or `make pull`)

1. `dvc pull` (remotes have `verify = true`: every downloaded object is re-hashed).
2. If it fails, re-fetch verbosely and name every object that failed verification, with the
   workspace files it belongs to: DVC itself only reports "Checkout failed ... Is your cache
   up to date?". Nothing else is done, so an interrupted or failed pull never looks complete
   (DVC writes each file under a temporary name and renames it; missing files stay missing).
3. On success, give all pulled outputs one modification time (sync_mtimes.py), so that
   `snakemake -n` reports nothing to do even for files too large for Snakemake to compare by
   checksum (over the profile's max-checksum-file-size; below it a bare `dvc pull` is enough).

Before pulling, partial files left by an interrupted pull (DVC's `<name>.<22 chars>.tmp`)
are deleted from the output folders; otherwise DVC refuses to pull over them.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sync_mtimes import sync_mtimes  # noqa: E402
from tracked import tracked_outs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DVC = shutil.which("dvc", path=str(Path(sys.executable).parent)) or "dvc"
PARTIAL = re.compile(r"\.[A-Za-z0-9_-]{22}\.tmp$")  # dvc_objects.fs.utils.tmp_fname
CORRUPTED = re.compile(r"corrupted cache file '.*?/files/md5/([0-9a-f]{2})/([0-9a-f]+)'")


def owners(md5s: set[str], outs: list[dict], cache: Path) -> dict[str, list[str]]:
    """Map object hashes to the workspace paths that hold them (file outs and .dir manifests)."""
    found: dict[str, list[str]] = {m: [] for m in md5s}
    for out in outs:
        md5 = out.get("md5", "")
        if md5 in found:
            found[md5].append(out["name"])
        if md5.endswith(".dir"):
            manifest = cache / md5[:2] / md5[2:]
            if manifest.exists():
                for entry in json.loads(manifest.read_text()):
                    if entry["md5"] in found:
                        found[entry["md5"]].append(f"{out['name']}/{entry['relpath']}")
    return found


def remove_partial_files(outputs: list[Path]) -> list[Path]:
    """Delete DVC's temporary files (interrupted downloads or checkouts) under output folders."""
    removed = []
    for out in outputs:
        if out.is_dir():
            for path in out.rglob("*.tmp"):
                if PARTIAL.search(path.name) and path.is_file():
                    path.unlink()
                    removed.append(path)
    return removed


def main(args: list[str]) -> int:
    outs = tracked_outs(ROOT)
    removed = remove_partial_files([out["path"] for out in outs])
    if removed:
        print(f"pull: removed {len(removed)} partial file(s) of an interrupted pull", file=sys.stderr)
    if subprocess.run([DVC, "pull", *args], cwd=ROOT).returncode == 0:
        n = sync_mtimes([out["path"] for out in outs])
        print(f"pull: done; {n} files share one modification time, `snakemake -n` has nothing to do")
        return 0
    fetch_args = [a for a in args if a not in ("-f", "--force")]
    log = subprocess.run([DVC, "fetch", "-v", *fetch_args], cwd=ROOT, capture_output=True, text=True)
    bad = {a + b for a, b in CORRUPTED.findall(log.stdout + log.stderr)}
    if bad:
        print("\nERROR: objects in the remote failed verification (their content does not match their", file=sys.stderr)
        print("hash): the remote copy is corrupted. They were not checked out:", file=sys.stderr)
        for md5, paths in owners(bad, outs, ROOT / ".dvc/cache/files/md5").items():
            print(f"  {md5}  {', '.join(paths) or '(unknown path)'}", file=sys.stderr)
        print("Re-upload them from a machine with a good copy (`make share`), or rebuild with `make run`.", file=sys.stderr)
    else:
        print("\nERROR: dvc pull failed (see above); outputs it could not restore are missing, not partial.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
