"""Print one line per mutated module from mutmut's results: ``mutation: <module> killed K of N = P %``.

Reads the ``mutants/<path>.meta`` files ``mutmut run`` leaves (JSON, exit code per mutant) for the
modules ``[tool.mutmut] only_mutate`` names, so the lines match the configuration. mutmut 3 has no
per-module summary of its own (``mutmut results`` lists survivors one by one). A mutant counts as
killed when mutmut classes it "killed" or "timeout"; N is every mutant generated (lines marked
``# pragma: no mutate`` generate none). Exits non-zero when a module is below ``--min`` percent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

KILLED_EXIT_CODES = {1, 3, 36, 24, -24, 152, 255}  # mutmut.stats: killed, pytest internal error, timeouts


def modules(pyproject: Path) -> list[str]:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"]["only_mutate"]


def summary(meta: Path) -> tuple[int, int, list[str]]:
    """Killed, total, and the names of the mutants not killed."""
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    alive = sorted(name for name, code in codes.items() if code not in KILLED_EXIT_CODES)
    return len(codes) - len(alive), len(codes), alive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (holds pyproject.toml, mutants/)")
    parser.add_argument("--min", type=float, default=0.0, help="fail when a module scores below this percentage")
    parser.add_argument("--survivors", action="store_true", help="also list the mutants not killed")
    args = parser.parse_args(argv)
    lines, ok = [], True
    for path in modules(args.root / "pyproject.toml"):
        meta = args.root / "mutants" / f"{path}.meta"
        if not meta.exists():
            print(f"mutation: {path}: no results in {meta} (run mutmut first)", file=sys.stderr)
            return 2
        killed, total, alive = summary(meta)
        percent = 100.0 * killed / total if total else 100.0
        ok &= percent >= args.min
        if args.survivors:
            print("\n".join(f"  not killed: {name}" for name in alive))
        lines.append(
            f"mutation: {Path(path).with_suffix('').as_posix().replace('/', '.')} killed {killed} of {total} = {percent:.1f} %"
        )
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
