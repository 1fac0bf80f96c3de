"""How the offline/train commands run (the Python side of offline/command.ts): `python -m offline.train.<command>`
from the repository root; argparse usage errors exit 2; a CommandError or a missing input file exits 1 with a
message and no traceback."""

from __future__ import annotations

import os
import sys
from typing import Callable


class CommandError(RuntimeError):
    """A failure a person can act on (a missing data folder, a model file not found): message only, exit 1."""


def run_main(main: Callable[[], object]) -> None:
    """Runs a command's main(); a CommandError or FileNotFoundError becomes `<command>: <message>` on stderr and exit
    status 1."""
    try:
        main()
    except (CommandError, FileNotFoundError) as e:
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        message = f"{e.strerror}: {e.filename}" if isinstance(e, FileNotFoundError) and e.filename else str(e)
        print(f"{name}: {message}", file=sys.stderr)
        sys.exit(1)
