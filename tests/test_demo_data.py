"""The bundled demo dataset is exactly what its generator makes, valid, labelled, and covers the cases."""

import importlib.util
from collections import Counter
from pathlib import Path

from rubric_kernel.cohort import score_cohort
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import DEMO_DATA, load_workspace

ROOT = Path(__file__).resolve().parents[1]  # the checkout, where tools/ lives


def _generator():
    spec = importlib.util.spec_from_file_location("make_demo_data", ROOT / "tools" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_demo_data_is_what_the_generator_makes(tmp_path):
    _generator().generate(tmp_path)
    made = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    # README.md, the demo registry (people.yaml) and the collection record (collection.yaml) are written by hand
    hand_written = {Path("README.md"), Path("people.yaml"), Path("collection.yaml")}
    committed = {p.relative_to(DEMO_DATA) for p in DEMO_DATA.rglob("*") if p.is_file()} - hand_written
    assert made == committed
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (DEMO_DATA / rel).read_bytes(), rel


def test_demo_is_labelled_synthetic():
    ws = load_workspace()
    assert ws.dataset.synthetic and ws.dataset.mark == "演示数据"
    assert "合成" in (DEMO_DATA / "README.md").read_text(encoding="utf-8")


def test_demo_covers_every_grade_pending_veto_and_dismissal(tmp_path):
    ws = load_workspace()
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    bootstrap(store, ws)
    results = score_cohort(ws, store.snapshots(ws.dataset.name))
    grades = Counter(r.grade for r in results.values())
    assert {"AAAAA", "AAAA", "AAA", "AA", "A"} <= set(grades)
    assert [n for n, r in results.items() if r.status == "provisional"] == [20, 45, 71, 75]
    assert any(r.effective_veto for r in results.values())
    raised_only = [n for n, r in results.items() if any(v.status == "raised" for v in r.veto) and not r.effective_veto]
    assert raised_only
    dismissed = [n for n, r in results.items() if any(ln.kind == "dismissed" for i in r.indicators for ln in i.lines)]
    assert len(dismissed) >= 3
    store.close()
