"""Where the data lives: `--data-dir`, else `$BIOALBERT_DATA`, else `../shared/data` or `./data`; and whether a
corpus file given there or on the command line can be read."""

import codecs
import gzip
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


def check_text_file(path: Path, what: str = "Corpus file") -> None:
    """Raises, naming `path`, unless it is a plain or gzip file whose start reads as UTF-8 text: a mistaken file
    (missing, a folder, a binary, Latin-1 text, a .gz that is not gzip) fails before any work starts."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}" if not path.exists() else f"{what} is not a file: {path}")
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as handle:
            start = handle.read(1 << 16)
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{what} {path} is not UTF-8 text (byte 0x{start[error.start]:02x} at offset {error.start}); convert it "
            "first, e.g. `iconv -f latin1 -t utf-8`"
        ) from error
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{what} {path} cannot be read: {error}") from error
    if b"\x00" in start:
        raise ValueError(f"{what} {path} is a binary file (NUL byte at offset {start.index(0)}), not text")
