"""The open thread's rows in a tab stay a bounded window of the newest messages."""

from __future__ import annotations

from care_messaging.state import thread_window


def _row(seq: int) -> dict[str, str]:
    return {"id": str(1000 + seq), "seq": str(seq), "body": f"m{seq}"}


def test_appending_within_the_limit_keeps_everything():
    rows, atts, oldest = thread_window.append([_row(1)], [], [_row(2)], [], limit=5)
    assert [r["seq"] for r in rows] == ["1", "2"] and atts == [] and oldest is None


def test_oldest_stored_rows_and_their_attachments_are_dropped_beyond_the_limit():
    pending = {"id": "pending-x", "seq": "", "body": "Sending"}
    rows = [_row(s) for s in range(1, 5)] + [pending]
    attachments = [{"message_id": "1001", "id": "7"}, {"message_id": "1004", "id": "8"}]
    kept, kept_atts, oldest = thread_window.append(rows, attachments, [_row(5), _row(6)], [],
                                                    limit=4)
    assert [r["seq"] for r in kept] == ["4", "", "5", "6"]
    assert kept[1] is pending  # a bubble not yet stored is never dropped
    assert kept_atts == [{"message_id": "1004", "id": "8"}]
    assert oldest == 4  # "Load older" continues from here


def test_a_window_of_only_pending_bubbles_is_left_alone():
    rows = [{"id": f"pending-{i}", "seq": "", "body": "x"} for i in range(3)]
    kept, _, oldest = thread_window.append(rows, [], [], [], limit=2)
    assert len(kept) == 3 and oldest is None
