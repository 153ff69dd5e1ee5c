"""The open thread's rows in a tab: new messages go to a short tail; the settled rows stay a
bounded window of the newest messages."""

from __future__ import annotations

from care_messaging.state import thread_window


def _row(seq: int) -> dict[str, str]:
    return {"id": str(1000 + seq), "seq": str(seq), "body": f"m{seq}"}


def test_new_rows_go_to_the_tail_and_leave_the_settled_rows_alone():
    settled = [_row(1)]
    added = thread_window.add(settled, [], [], [_row(2)], [], recent_max=3)
    assert added.settled is None  # unchanged: Reflex will not resend it
    assert [r["seq"] for r in added.recent] == ["2"]
    assert added.attachments is None and added.oldest_seq is None


def test_a_full_tail_folds_into_the_settled_rows_once():
    added = thread_window.add([_row(1)], [_row(2), _row(3)], [], [_row(4)], [],
                              recent_max=2, limit=10)
    assert [r["seq"] for r in added.settled] == ["1", "2", "3", "4"] and added.recent == []
    assert added.oldest_seq is None


def test_new_attachments_are_appended():
    added = thread_window.add([], [], [{"message_id": "1", "id": "7"}], [_row(2)],
                              [{"message_id": "1002", "id": "8"}], recent_max=5)
    assert [a["id"] for a in added.attachments] == ["7", "8"]


def test_folding_drops_the_oldest_stored_rows_and_their_attachments_beyond_the_limit():
    pending = {"id": "pending-x", "seq": "", "body": "Sending"}
    settled = [_row(s) for s in range(1, 5)]
    attachments = [{"message_id": "1001", "id": "7"}, {"message_id": "1004", "id": "8"}]
    added = thread_window.add(settled, [pending], attachments, [_row(5), _row(6)], [],
                              recent_max=2, limit=4)
    assert [r["seq"] for r in added.settled] == ["4", "", "5", "6"]
    assert added.settled[1] is pending  # a bubble not yet stored is never dropped
    assert added.attachments == [{"message_id": "1004", "id": "8"}]
    assert added.oldest_seq == 4  # "Load older" continues from here


def test_a_window_of_only_pending_bubbles_is_left_alone():
    rows = [{"id": f"pending-{i}", "seq": "", "body": "x"} for i in range(3)]
    kept, _, oldest = thread_window.trim(rows, [], limit=2)
    assert len(kept) == 3 and oldest is None


def test_replace_rows_reports_no_change_as_none():
    rows = [_row(1), _row(2)]
    assert thread_window.replace_rows(rows, lambda r: r) is None
    assert thread_window.replace_rows(rows, lambda r: None if r["seq"] == "1" else r) == [_row(2)]
    changed = thread_window.replace_rows(rows, lambda r: {**r, "body": "x"})
    assert [r["body"] for r in changed] == ["x", "x"]
