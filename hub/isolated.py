"""Runs Python where bioalbert is not installed, with no way to reach this checkout: what we ship (remote-code model
folders, staged release and Space folders) is checked there, as it will run on the Hub or a user's machine.

The interpreter is this environment's Python started with `-I -S -B`: no site module, so no `.pth` file runs and
setuptools' editable-install finder (installed by `__editable__*.pth`) never exists; no current folder, script
folder, user site or PYTHON* variable on `sys.path`. Its `sys.path` is the standard library plus this environment's
site-packages directories, added as plain folders, then `path` (e.g. a staged Space folder) in front. Filtering
`sys.meta_path` in a normal interpreter is not enough: the editable finder is stored as a class, whose type is
`type`, so a filter on `type(finder).__module__` keeps it and every module missing from a copy quietly loads from
the checkout.

Belt and braces: an audit hook ends the process (exit status LEAK_STATUS, a line naming the file on stderr) as soon
as anything opens or lists a file of the checkout (or of an installed bioalbert) outside the Python environment
itself (a virtual environment may live inside the checkout), so no module can come from there even through a path
this module did not foresee.
"""

import os
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the checkout (editable install) or the installed bioalbert
LEAK_STATUS = 86
LEAK_MESSAGE = "isolation leak: opened"

PRELUDE = """\
import importlib.util, os, sys
sys.path[:] = [p for p in sys.path if p] + [p for p in {site!r} if p not in sys.path]
if importlib.util.find_spec("bioalbert") is not None:
    sys.exit("bioalbert is importable from site-packages: not an environment without bioalbert")
sys.path[:0] = {path!r}

def _no_checkout(event, args, root={root!r}, allowed={allowed!r}, events=("open", "os.listdir", "os.scandir")):
    if event in events and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened = os.path.abspath(os.fsdecode(args[0]))
        inside = lambda folder: opened == folder or opened.startswith(folder + os.sep)
        if inside(root) and not any(inside(folder) for folder in allowed):
            os.write(2, ("{message} " + opened + chr(10)).encode())
            os._exit({status})

sys.addaudithook(_no_checkout)
del _no_checkout
"""


def site_packages() -> list[str]:
    """This environment's site-packages folders (purelib, platlib), without processing their .pth files."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(paths[key] for key in ("purelib", "platlib")))


def isolated_argv(code: str, path: Sequence[str | os.PathLike] = ()) -> list[str]:
    """The command line that runs `code` in an isolated interpreter (see the module doc) with `path` first on
    `sys.path`."""
    prelude = PRELUDE.format(
        site=site_packages(), path=[str(Path(p).resolve()) for p in path], root=str(SOURCE_ROOT),
        allowed=tuple(dict.fromkeys([sys.prefix, sys.base_prefix, *site_packages()])),
        message=LEAK_MESSAGE, status=LEAK_STATUS,
    )
    return [sys.executable, "-I", "-S", "-B", "-c", prelude + code]  # -B: no __pycache__ in the folders it checks


def run_isolated(
    code: str, cwd: str | os.PathLike, path: Sequence[str | os.PathLike] = (), env: dict | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Runs `code` isolated in `cwd` (which must not be inside the checkout); returns the finished process (text
    output captured, no stdin)."""
    return subprocess.run(
        isolated_argv(code, path), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
