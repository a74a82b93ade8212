"""Compiled templates kept between processes are only a shortcut: a changed template, a damaged or
unwritable cache renders exactly what compiling afresh renders."""

from __future__ import annotations

import pytest

from rubric_kernel.report.render import make_environment


def _render(templates, compiled, **values) -> str:
    return make_environment(templates, compiled).get_template("t.html.j2").render(**values)


@pytest.fixture
def templates(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "t.html.j2").write_text("<p>{{ name }}：{{ n }} 分</p>", encoding="utf-8")
    return folder


def test_a_compiled_template_is_reused_and_renders_the_same(templates, tmp_path):
    compiled = tmp_path / "compiled"
    first = _render(templates, compiled, name="<甲>", n=3)
    assert first == "<p>&lt;甲&gt;：3 分</p>"
    assert len(list(compiled.iterdir())) == 1
    env = make_environment(templates, compiled)
    env.compile = lambda *a, **k: pytest.fail("compiled again although the cache holds it")
    assert env.get_template("t.html.j2").render(name="<甲>", n=3) == first


def test_a_changed_template_is_compiled_again(templates, tmp_path):
    compiled = tmp_path / "compiled"
    _render(templates, compiled, name="甲", n=3)
    (templates / "t.html.j2").write_text("<b>{{ name }}</b>", encoding="utf-8")
    assert _render(templates, compiled, name="甲", n=3) == "<b>甲</b>"


def test_a_damaged_cache_entry_is_compiled_again(templates, tmp_path):
    compiled = tmp_path / "compiled"
    _render(templates, compiled, name="甲", n=3)
    (entry,) = compiled.iterdir()
    data = entry.read_bytes()
    for damaged in (data[: len(data) // 2], data[:40] + b"\x00" * 10, b"junk"):
        entry.write_bytes(damaged)
        assert _render(templates, compiled, name="乙", n=4) == "<p>乙：4 分</p>"


def test_an_unwritable_cache_entry_only_means_compiling(templates, tmp_path):
    """A folder in the entry's place cannot be written or read, even by root (a read-only folder can)."""
    probe = tmp_path / "probe"
    _render(templates, probe, name="甲", n=3)
    (entry,) = probe.iterdir()
    compiled = tmp_path / "compiled"
    (compiled / entry.name).mkdir(parents=True)
    assert _render(templates, compiled, name="甲", n=3) == "<p>甲：3 分</p>"
    assert _render(templates, compiled, name="乙", n=4) == "<p>乙：4 分</p>"
    assert (compiled / entry.name).is_dir()


def test_a_cache_folder_that_cannot_be_made_only_means_compiling(templates, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert _render(templates, blocker / "compiled", name="甲", n=3) == "<p>甲：3 分</p>"
