"""Version and push a finished study with DVC: `dvc add` what the run made, then `dvc push`.

    python scripts/dvc/share.py [-r REMOTE]      (or `make share ARGS="-r b2"`)

1. Refuses unless `snakemake -n` has nothing to do: a partial or outdated study is not shared.
2. `dvc add` the folders of `tracked.shared_paths` (the raw data inside the repository, `results`,
   `.snakemake/metadata`), writing one `.dvc` file each.
3. `dvc push` (arguments are passed on), then prints the `git add` of the `.dvc` files to commit.

Elsewhere, `git clone` + `dvc pull` (or `make pull`) restores the study and `snakemake -n` has
nothing to do (docs/cluster-and-dvc.md).
"""

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tracked import shared_paths  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DVC = shutil.which("dvc", path=str(BIN)) or "dvc"
SNAKEMAKE = shutil.which("snakemake", path=str(BIN)) or "snakemake"


def main(args: list[str]) -> int:
    from lens2logit.errors import InputError
    from lens2logit.schema import with_defaults
    from lens2logit.workflow.config import read_config_file

    try:
        config = with_defaults(read_config_file(ROOT / "config.yaml"))
    except InputError as exc:
        print(f"share: {exc}", file=sys.stderr)
        return 2
    dry = subprocess.run([SNAKEMAKE, "--cores", "1", "--dry-run", "--quiet", "rules"], cwd=ROOT, capture_output=True, text=True)
    if dry.returncode != 0 or "Nothing to be done" not in dry.stdout + dry.stderr:
        print("share: the study in config.yaml is not complete (`snakemake -n` has jobs to run); run `make run` first",
              file=sys.stderr)
        print((dry.stdout + dry.stderr)[-2000:], file=sys.stderr)
        return 1
    paths = shared_paths(ROOT, config["data"]["root"])
    if subprocess.run([DVC, "add", "--quiet", *paths], cwd=ROOT).returncode != 0:
        return 1
    if subprocess.run([DVC, "push", *args], cwd=ROOT).returncode != 0:
        return 1
    print("share: pushed; commit the .dvc files: git add " + " ".join(f"{p}.dvc" for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
