"""What the LibreOffice print test costs: one headless conversion of five demo workbooks with a fresh
profile (LibreOffice's first start, as on a CI machine), then the same with that profile warm.

Usage: ``.venv/bin/python benchmarks/office_print.py``. Needs ``soffice`` (``tools/system_deps.sh office``).
The last line, ``office_first=<s> office_warm=<s>``, is meant to be grepped.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rubric_kernel.spreadsheet import xlsx_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from office import convert_to_pdf

from rubric_kernel.workspace import load_workspace


def convert(files: list[Path], profile: Path, out: Path) -> float:
    started = time.perf_counter()
    convert_to_pdf(files, profile, out)
    return time.perf_counter() - started


def main() -> None:
    roster = load_workspace().roster
    rows = [{"序号": n, "评价机构": i.name, "类别": i.klass, "地址": i.address} for n, i in roster.items()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for k in range(5):
            files.append(root / f"book{k}.xlsx")
            files[-1].write_bytes(xlsx_bytes([("名单", rows)], "演示数据"))
        profile = root / "profile"
        first = convert(files, profile, root / "pdf1")
        warm = convert(files, profile, root / "pdf2")
    print(f"office_first={first:.1f}s office_warm={warm:.1f}s")


if __name__ == "__main__":
    main()
