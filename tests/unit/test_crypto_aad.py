"""The associated-data strings are part of every stored ciphertext: pin their exact spelling,
so a refactor of ``crypto``'s builders cannot silently orphan what is already stored."""

from __future__ import annotations

import ast
from pathlib import Path

from care_messaging import crypto

PACKAGE = Path(__file__).resolve().parents[2] / "care_messaging"


def test_aad_strings_are_byte_compatible_with_what_is_stored():
    assert crypto.message_aad(7, 3, 11) == "msg:v2:7:3:11"
    assert crypto.attachment_aad(7, 5) == "att:v2:7:5"
    assert crypto.totp_aad(42) == "totp:42"
    assert crypto.reflex_state_aad() == "reflex-state:v1"
    assert crypto.live_forward_aad() == "live-forward:v1"
    assert crypto.note_aad(7, 5, 11) == "note:v1:7:5:11"
    assert crypto.revision_aad(7, 9, 2, 11) == "rev:v1:7:9:2:11"
    assert crypto.draft_aad(11, 7) == "draft:v1:11:7"


def test_a_body_sealed_under_the_literal_string_opens_through_decrypt_body():
    blob, key_id = crypto.encrypt_text("hello", aad="msg:v2:1:2:3")

    class Row:
        id, conversation_id, seq, sender_user_id, body_ct = 9, 1, 2, 3, blob

    Row.key_id = key_id
    assert crypto.decrypt_body(Row()) == ("hello", False)
    Row.seq = 4  # the same ciphertext at another place in the conversation
    assert crypto.decrypt_body(Row()) == (crypto.TAMPERED_TEXT, True)


def test_no_module_but_crypto_spells_an_aad_by_hand():
    """Every ``aad=`` argument in the app is a call to a crypto builder or a name bound to one."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "crypto.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "aad" and isinstance(
                    node.value, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.value.lineno}")
    assert offenders == []


def test_search_does_not_import_the_sending_service():
    source = (PACKAGE / "services" / "search.py").read_text()
    assert "message_sending" not in source
    assert "services.messages" not in source and "services import messages" not in source
