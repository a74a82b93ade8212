"""The batch's state: every finished institution survives a kill, and recording one costs the same
however many are recorded (the journal), while the state file is rewritten only at a run's ends."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubric_kernel.batch.state import JOURNAL_FILE, STATE_FILE, Entry, State

entries = st.builds(
    Entry,
    fingerprint=st.text(max_size=8),
    run=st.sampled_from(["", "20230601-090000", "20230602-090000"]),
    result=st.none() | st.fixed_dictionaries({"total": st.floats(0, 1000), "grade": st.sampled_from(["A", "AAA"])}),
    seconds=st.floats(0, 10),
    error=st.text(max_size=12),
)


def test_recording_appends_without_rewriting_the_state_file(tmp_path):
    state = State.load(tmp_path)
    state.record(1, Entry("f1", "r1", {"total": 900.0}))
    state.save()
    saved = (tmp_path / STATE_FILE).read_bytes()
    for n in range(2, 40):
        state.record(n, Entry(f"f{n}", "r2", {"total": float(n)}))
    assert (tmp_path / STATE_FILE).read_bytes() == saved, "the state file is not rewritten per institution"
    assert len((tmp_path / JOURNAL_FILE).read_text(encoding="utf-8").splitlines()) == 38
    assert State.load(tmp_path).entries == state.entries
    state.save()
    assert not (tmp_path / JOURNAL_FILE).exists()
    assert State.load(tmp_path).entries == state.entries


def test_a_line_cut_short_by_a_kill_is_dropped_and_the_rest_kept(tmp_path):
    state = State.load(tmp_path)
    state.record(13, Entry("a", "r1"))
    state.record(66, Entry("b", "r1"))
    journal = tmp_path / JOURNAL_FILE
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-7])  # the kill fell while the second line was being written
    assert State.load(tmp_path).entries == {13: Entry("a", "r1")}


def test_a_later_entry_replaces_an_earlier_one(tmp_path):
    state = State.load(tmp_path)
    state.record(13, Entry("a", "r1"))
    state.save()
    state.record(13, Entry("", "r1", None, 1.5, "失败"))
    state.record(13, Entry("c", "r2", {"total": 1.0}))
    assert State.load(tmp_path).entries == {13: Entry("c", "r2", {"total": 1.0})}


def test_a_symlink_at_the_journal_is_not_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("不应被改写", encoding="utf-8")
    (tmp_path / JOURNAL_FILE).symlink_to(elsewhere)
    with pytest.raises(OSError):
        State.load(tmp_path).record(1, Entry("f", "r"))
    assert elsewhere.read_text(encoding="utf-8") == "不应被改写"


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(1, 6), entries, st.booleans()), min_size=1, max_size=12),
    cut=st.integers(0, 10_000),
)
def test_any_kill_loses_at_most_the_line_being_written(tmp_path_factory, steps, cut):
    """Records and saves in any order, then a kill at any byte of the journal: what loads is the state as
    of the last whole line, and a run that saves from there carries on with a clean journal."""
    folder = tmp_path_factory.mktemp("state")
    state = State.load(folder)
    saved: dict[int, Entry] = {}  # the entries as of the last save
    history = []  # the entries after each record since the last save, beside the journal's length then
    for number, entry, save_after in steps:
        state.record(number, entry)
        if save_after:
            state.save()
            saved, history = dict(state.entries), []
        else:
            history.append((os.path.getsize(folder / JOURNAL_FILE), dict(state.entries)))
    journal = folder / JOURNAL_FILE
    if history:
        keep = cut % (os.path.getsize(journal) + 1)
        with open(journal, "r+b") as fh:
            fh.truncate(keep)
        # a line is whole once its JSON is: the kill may fall just before its newline
        whole = [entries_then for length, entries_then in history if length - 1 <= keep]
        assert State.load(folder).entries == (whole[-1] if whole else saved)
    else:
        assert not journal.exists() and State.load(folder).entries == state.entries
    resumed = State.load(folder)
    resumed.save()
    assert not journal.exists() and State.load(folder).entries == resumed.entries
