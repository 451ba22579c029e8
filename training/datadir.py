"""Where the data lives: `--data-dir`, else `$BIOALBERT_DATA`, else `../shared/data` or `./data`."""

import os
from pathlib import Path

ENV_VAR = "BIOALBERT_DATA"
DEFAULT_CANDIDATES = (Path("../shared/data"), Path("data"))


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Returns the data directory (holding `bioner/` and `corpus/`), or raises naming every place looked at."""
    if data_dir is not None:
        candidates, source = [Path(data_dir)], "--data-dir"
    elif os.environ.get(ENV_VAR):
        candidates, source = [Path(os.environ[ENV_VAR])], f"${ENV_VAR}"
    else:
        candidates, source = list(DEFAULT_CANDIDATES), "the default locations"
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(
        f"No data directory found (looked at {looked}, from {source}). Pass --data-dir DIR or set "
        f"{ENV_VAR}=DIR, where DIR holds bioner/<dataset>/{{train,devel,test}}.tsv and corpus/*.txt[.gz]."
    )
