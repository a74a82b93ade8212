"""The command line run in the test's own process, its standard output captured."""

from __future__ import annotations

import contextlib
import io

from rubric_kernel.cli import main


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()
