"""FHIR R4 export and import: a valid Bundle, a faithful round trip, and refusals that leave
nothing behind."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func
from sqlmodel import Session, create_engine, select

from care_messaging import cli
from care_messaging.models import (
    Attachment,
    AuditEvent,
    Conversation,
    Message,
    MessageDailyCount,
    MessageRevision,
    Patient,
    Provider,
    ReadState,
    Role,
)
from care_messaging.services import attachments, fhir_export, fhir_import
from care_messaging.services.conversations import create_conversation, set_priority, set_status
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.fhir_mapping import (
    CLIENT_MESSAGE_ID_SYSTEM,
    DATA_OPERATION,
    REVISION_ID_SYSTEM,
)
from care_messaging.services.message_changes import (
    correct_message,
    message_history,
    retract_message,
)
from care_messaging.services.message_sending import send_message
from care_messaging.services.receipts import mark_read
from care_messaging.settings import get_settings
from tests.factories import actor_of, add_to_team, clinic, make_admin, make_user
from tests.fixtures import files


def _send(session, actor, conversation_id, body, cid, uploads=()):
    ids = [attachments.store_upload(session, actor=actor, conversation_id=conversation_id,
                                    filename=name, data=data).id for name, data in uploads]
    session.commit()  # each request is its own unit of work (services never commit)
    sent = send_message(session, actor=actor, conversation_id=conversation_id, body=body,
                        client_msg_id=cid, attachment_ids=ids)
    session.commit()
    return sent


@pytest.fixture
def seeded(session):
    people = clinic(session)
    maria, lee = people["maria"], people["lee"]
    conversation, _ = create_conversation(
        session, actor=maria, patient_id=None, topic="Rash after new cream",
        reason="Itchy rash", body="The rash is spreading.", client_msg_id="m1",
        category="medication")
    session.commit()
    mark_read(session, actor=lee, conversation=session.get(Conversation, conversation.id))
    session.commit()
    _send(session, lee, conversation.id, "Please send a photo and the label.", "l1")
    mark_read(session, actor=maria, conversation=session.get(Conversation, conversation.id))
    session.commit()
    _send(session, maria, conversation.id, "Both attached.", "m2",
          uploads=[("rash.png", files.png()), ("label.pdf", files.pdf("Cream label"))])
    _send(session, maria, conversation.id, "", "m3", uploads=[("close-up.png", files.png(8, 8))])
    set_priority(session, actor=lee, conversation_id=conversation.id, priority="urgent")
    session.commit()
    set_status(session, actor=lee, conversation_id=conversation.id, status="needs_attention")
    session.commit()
    return people, conversation


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _counts(session: Session) -> dict[str, int]:
    tables = (Conversation, Message, Attachment, ReadState, MessageDailyCount, MessageRevision)
    counts = {t.__name__: session.exec(select(func.count()).select_from(t)).one() for t in tables}
    folder = get_settings().attachment_dir
    counts["files"] = len(list(folder.iterdir())) if folder.exists() else 0
    return counts


def _normalized(bundle: dict) -> dict:
    """The Bundle with ids, fullUrls and the export time replaced by their order of first
    appearance: two exports of the same record then compare equal."""
    labels: dict[str, str] = {}

    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k not in ("id", "timestamp")}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("urn:uuid:"):
            return labels.setdefault(value, f"ref-{len(labels)}")
        return value

    return walk(bundle)


def test_export_is_a_valid_r4_bundle_with_the_whole_thread(session, seeded):
    people, conversation = seeded
    bundle = fhir_export.export_conversation(session, actor=people["lee"],
                                             conversation_id=conversation.id)
    session.commit()
    Bundle.model_validate(bundle)  # the package's own models accept it
    json.dumps(bundle)  # and it is plain JSON
    assert bundle["type"] == "collection" and "meta" not in bundle
    patients = _resources(bundle, "Patient")
    assert [p["identifier"][0]["value"] for p in patients] == ["P-100200"]
    assert [p["identifier"][0]["value"] for p in _resources(bundle, "Practitioner")] == [
        people["lee"].email]  # Dr. Patel is on the team but took no part
    header, *messages = _resources(bundle, "Communication")
    assert header["topic"] == {"text": "Rash after new cream"}
    assert header["status"] == "on-hold" and header["priority"] == "asap"
    assert header["category"][0]["coding"][0]["code"] == "medication"
    assert header["reasonCode"] == [{"text": "Itchy rash"}]
    assert header["medium"][0]["coding"][0]["code"] == "secure_message"
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    patient_url, header_url = urls[patients[0]["id"]], urls[header["id"]]
    assert header["subject"]["reference"] == patient_url
    assert [m["payload"][0].get("contentString") for m in messages] == [
        "The rash is spreading.", "Please send a photo and the label.", "Both attached.", None]
    assert all(m["partOf"] == [{"reference": header_url}] for m in messages)
    assert all(m["status"] == "completed" for m in messages)
    assert [m["identifier"] for m in messages] == [
        [{"system": CLIENT_MESSAGE_ID_SYSTEM, "value": cid}] for cid in ("m1", "l1", "m2", "m3")]
    # Replies point at the latest message from the other side.
    assert "inResponseTo" not in messages[0]
    assert messages[1]["inResponseTo"] == [{"reference": urls[messages[0]["id"]]}]
    assert messages[2]["inResponseTo"] == messages[3]["inResponseTo"] == [
        {"reference": urls[messages[1]["id"]]}]
    assert messages[0]["sender"]["reference"] == patient_url
    assert messages[1]["recipient"] == [messages[0]["sender"]]
    # Read by the other side: the first two; the patient's last two nobody has read yet.
    assert messages[0]["received"] > messages[0]["sent"]
    assert messages[1]["received"] > messages[1]["sent"]
    assert "received" not in messages[2] and "received" not in messages[3]
    files_sent = [p["contentAttachment"] for p in messages[2]["payload"][1:]]
    assert [(a["title"], a["contentType"]) for a in files_sent] == [
        ("rash.png", "image/png"), ("label.pdf", "application/pdf")]
    binaries = {urls[b["id"]]: b for b in _resources(bundle, "Binary")}
    for item, original in zip(files_sent, (files.png(), files.pdf("Cream label")), strict=True):
        assert item["size"] == len(original)
        assert item["hash"] == base64.b64encode(hashlib.sha1(original).digest()).decode()
        assert base64.b64decode(binaries[item["url"]]["data"]) == original
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir_export")).all()
    assert [(a.outcome, a.actor_user_id, a.patient_id) for a in audit] == [
        ("success", people["lee"].user_id, people["maria_patient"].id)]
    assert "Rash" not in audit[0].detail


def test_who_may_export(session, seeded, monkeypatch):
    people, conversation = seeded
    for who in ("outsider", "maria"):
        with pytest.raises(NotFoundError):
            fhir_export.export_conversation(session, actor=people[who],
                                            conversation_id=conversation.id)
        session.rollback()  # the denial's row stays: it was written apart
    with pytest.raises(NotFoundError):
        fhir_export.export_conversation(session, actor=people["lee"], conversation_id=999999)
    session.rollback()
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir_export",
                                                   AuditEvent.outcome == "denied")).all()
    assert len(denied) == 3
    admin = actor_of(session, make_admin(session))
    quiet = fhir_export.export_conversation(session, actor=admin, conversation_id=conversation.id)
    Bundle.model_validate(quiet)
    assert quiet["meta"]["tag"][0]["code"] == "no-text"
    text = json.dumps(quiet)
    assert "spreading" not in text and "rash.png" not in text and not _resources(quiet, "Binary")
    assert len(_resources(quiet, "Communication")) == 5  # the record's shape is all there
    monkeypatch.setenv("CARE_FHIR_ADMIN_TEXT", "1")
    get_settings.cache_clear()
    full = fhir_export.export_conversation(session, actor=admin, conversation_id=conversation.id)
    assert "spreading" in json.dumps(full) and "meta" not in full


def test_whole_patient_export_holds_every_conversation(session, seeded):
    people, _ = seeded
    create_conversation(session, actor=people["patel"], patient_id=people["maria_patient"].id,
                        topic="Follow-up", reason="Check-in", body="How are you?")
    session.commit()
    bundle = fhir_export.export_patient(session, actor=people["patel"],
                                        patient_id=people["maria_patient"].id)
    Bundle.model_validate(bundle)
    headers = [c for c in _resources(bundle, "Communication") if "partOf" not in c]
    assert [h["topic"]["text"] for h in headers] == ["Rash after new cream", "Follow-up"]
    assert len(_resources(bundle, "Patient")) == 1


@pytest.fixture
def empty_clinic(migrated_template, tmp_path, seeded, session):
    """A second, empty database holding only the same people (same emails and patient ID)."""
    people, _ = seeded
    target = tmp_path / "empty.db"
    shutil.copyfile(migrated_template, target)
    engine = create_engine(f"sqlite:///{target}")
    with Session(engine, expire_on_commit=False) as other:
        actors = {}
        for key in ("lee", "patel", "outsider", "maria"):
            actor = people[key]
            user = make_user(other, role=actor.role, name=actor.display_name, email=actor.email)
            if actor.role == Role.PROVIDER:
                other.add(Provider(user_id=user.id, title="Dr."))
            else:
                other.add(Patient(user_id=user.id, mrn="P-100200", first_name="Maria",
                                  last_name="Garcia"))
            other.commit()
            actors[key] = actor_of(other, user)
        patient = other.exec(select(Patient)).one()
        for key in ("lee", "patel"):
            add_to_team(other, patient, other.get(Provider, actors[key].provider_id))
        yield other, actors
    engine.dispose()


def test_import_into_an_empty_database_gives_back_the_same_bundle(session, seeded, empty_clinic):
    people, conversation = seeded
    first = fhir_export.export_conversation(session, actor=people["lee"],
                                            conversation_id=conversation.id)
    other, actors = empty_clinic
    report = fhir_import.import_bundle(other, actor=actors["patel"], raw=json.dumps(first))
    other.commit()  # the caller's unit of work
    assert (report.messages, report.attachments) == (4, 3)
    again = fhir_export.export_conversation(other, actor=actors["lee"],
                                            conversation_id=report.conversation_ids[0])
    assert _normalized(again) == _normalized(first)
    # The files are stored encrypted like uploads, and open to the same bytes.
    rows = other.exec(select(Attachment).order_by(Attachment.id)).all()
    originals = [files.png(), files.pdf("Cream label"), files.png(8, 8)]
    for row, original in zip(rows, originals, strict=True):
        stored = (get_settings().attachment_dir / row.stored_name).read_bytes()
        assert original not in stored
        _, data = attachments.open_attachment(other, actor=actors["maria"], attachment_id=row.id)
        assert data == original
    imported = other.exec(select(AuditEvent).where(AuditEvent.action == "fhir_import")).all()
    assert [(a.outcome, a.actor_user_id) for a in imported] == [
        ("success", actors["patel"].user_id)]


def _refused(other: Session, actor, raw, error=ValidationError) -> str:
    before = _counts(other)
    with pytest.raises(error) as caught:
        fhir_import.import_bundle(other, actor=actor, raw=raw)
    other.rollback()  # what the caller's unit of work does on the refusal
    assert _counts(other) == before  # no row and no file
    last = other.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.action == "fhir_import" and last.outcome in ("rejected", "denied")
    return str(caught.value)


def test_refusals_write_nothing(session, seeded, empty_clinic):
    people, conversation = seeded
    good = fhir_export.export_conversation(session, actor=people["lee"],
                                           conversation_id=conversation.id)
    other, actors = empty_clinic
    lee = actors["lee"]

    assert "not JSON" in _refused(other, lee, b"\x00not json")
    broken = copy.deepcopy(good)
    _resources(broken, "Communication")[1]["sent"] = "yesterday"
    assert "not a valid FHIR R4 Bundle" in _refused(other, lee, broken)
    # Valid FHIR, but a status this app does not store (retractions are entered-in-error).
    unknown_status = copy.deepcopy(good)
    _resources(unknown_status, "Communication")[1]["status"] = "not-done"
    assert "'not-done'" in _refused(other, lee, unknown_status)
    stranger = copy.deepcopy(good)
    _resources(stranger, "Practitioner")[0]["identifier"][0]["value"] = "nobody@else.care"
    assert "nobody@else.care" in _refused(other, lee, stranger)
    unknown_patient = copy.deepcopy(good)
    _resources(unknown_patient, "Patient")[0]["identifier"][0]["value"] = "P-999999"
    assert "P-999999" in _refused(other, lee, unknown_patient, NotFoundError)
    # The patient exists but is not on this provider's care team: the same answer.
    assert "P-100200" in _refused(other, actors["outsider"], good, NotFoundError)
    assert "Only a provider" in _refused(other, actors["maria"], good, NotFoundError)
    altered = copy.deepcopy(good)
    binary = _resources(altered, "Binary")[0]
    binary["data"] = base64.b64encode(files.png(5, 5)).decode()
    assert "do not match" in _refused(other, lee, altered)
    patient_as_provider = copy.deepcopy(good)
    header = _resources(patient_as_provider, "Communication")[0]
    header["recipient"] = [header["subject"]]
    assert "not a Practitioner" in _refused(other, lee, patient_as_provider)
    admin = actor_of(session, make_admin(session))
    quiet = fhir_export.export_conversation(session, actor=admin, conversation_id=conversation.id)
    assert "without message text" in _refused(other, lee, quiet)

    fhir_import.import_bundle(other, actor=lee, raw=good)
    other.commit()
    assert "already been imported" in _refused(other, lee, good)


def test_a_disk_failure_mid_import_leaves_no_rows_and_no_files(session, seeded, empty_clinic,
                                                                monkeypatch):
    people, conversation = seeded
    good = fhir_export.export_conversation(session, actor=people["lee"],
                                           conversation_id=conversation.id)
    other, actors = empty_clinic
    before = _counts(other)
    real_write = Path.write_bytes
    calls = []

    def disk_full_on_second_file(self, data):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_on_second_file)
    with pytest.raises(OSError):
        fhir_import.import_bundle(other, actor=actors["lee"], raw=good)
    other.rollback()
    assert len(calls) == 2 and not calls[0].exists()  # the first file was written, then removed
    assert _counts(other) == before
    last = other.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.action, last.outcome) == ("fhir_import", "failure")


def test_cli_exports_a_whole_patient_and_imports_it(session, seeded, tmp_path, capsys):
    people, _ = seeded
    out = tmp_path / "maria.json"
    assert cli.main(["fhir-export", "--as", people["lee"].email, "--patient", "P-100200",
                     "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o077 == 0  # PHI on disk: the operator's eyes only
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    assert len([c for c in _resources(bundle, "Communication") if "partOf" not in c]) == 1
    # The outsider may not see Maria: refused like a patient that does not exist.
    assert cli.main(["fhir-export", "--as", people["outsider"].email,
                     "--patient", "P-100200"]) == 2
    assert "Patient not found" in capsys.readouterr().err
    # Importing the same record again is refused (its messages exist); nothing is added.
    before = _counts(session)
    assert cli.main(["fhir-import", "--as", people["lee"].email, str(out)]) == 2
    assert "already been imported" in capsys.readouterr().err
    assert _counts(session) == before


def _message_id(session: Session, client_msg_id: str) -> int:
    return session.exec(select(Message.id).where(Message.client_msg_id == client_msg_id)).one()


@pytest.fixture
def changed(session, seeded):
    """The seeded thread after changes: Dr. Lee corrected his reply twice, Maria retracted the
    message with the two files, and corrected then retracted her first message."""
    people, conversation = seeded
    lee, maria = people["lee"], people["maria"]
    correct_message(session, actor=lee, message_id=_message_id(session, "l1"),
                    body="Please send a photo of the rash.")
    session.commit()
    correct_message(session, actor=lee, message_id=_message_id(session, "l1"),
                    body="Please send a photo of the rash and the cream's label.")
    session.commit()
    retract_message(session, actor=maria, message_id=_message_id(session, "m2"))
    session.commit()
    correct_message(session, actor=maria, message_id=_message_id(session, "m1"),
                    body="The rash is spreading fast.")
    session.commit()
    retract_message(session, actor=maria, message_id=_message_id(session, "m1"))
    session.commit()
    return people, conversation


def _by_url(bundle: dict) -> dict[str, dict]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def test_retractions_and_corrections_export_as_entered_in_error_linked_by_provenance(
        session, changed):
    people, conversation = changed
    bundle = fhir_export.export_conversation(session, actor=people["lee"],
                                             conversation_id=conversation.id)
    Bundle.model_validate(bundle)
    resources = _by_url(bundle)
    _header, *communications = _resources(bundle, "Communication")
    messages = {m["identifier"][0]["value"]: m for m in communications
                if m["identifier"][0]["system"] == CLIENT_MESSAGE_ID_SYSTEM}
    corrections = {c["identifier"][0]["value"]: c for c in communications
                   if c["identifier"][0]["system"] == REVISION_ID_SYSTEM}
    assert {k: m["status"] for k, m in messages.items()} == {
        "m1": "entered-in-error", "l1": "entered-in-error", "m2": "entered-in-error",
        "m3": "completed"}
    # Nothing is deleted: the originals keep their text and files.
    assert messages["m1"]["payload"] == [{"contentString": "The rash is spreading."}]
    assert len(messages["m2"]["payload"]) == 3
    assert messages["m2"]["statusReason"] == {"text": "Retracted by the sender"}
    assert messages["l1"]["statusReason"] == {"text": "Corrected by the sender"}
    # One Communication per correction; only the text the message says now is completed.
    assert {k: (c["status"], c["payload"][0]["contentString"]) for k, c in corrections.items()
            } == {
        "l1#1": ("entered-in-error", "Please send a photo of the rash."),
        "l1#2": ("completed", "Please send a photo of the rash and the cream's label."),
        "m1#1": ("entered-in-error", "The rash is spreading fast.")}
    assert all(c["partOf"] == messages["l1"]["partOf"] for c in corrections.values())
    assert corrections["l1#2"]["sender"] == messages["l1"]["sender"]
    url_of = {id(r): url for url, r in resources.items()}
    revisions = {r.message_id * 10 + r.revision_no: r for r in session.exec(
        select(MessageRevision)).all()}
    l1 = revisions[_message_id(session, "l1") * 10 + 2]
    assert corrections["l1#2"]["sent"] == fhir_export.instant(l1.created_at)
    provenances = _resources(bundle, "Provenance")
    assert len(provenances) == 5  # three corrections, two retractions

    def activity(p):
        return [(c["system"], c["code"]) for c in p["activity"]["coding"]]

    links = {resources[p["target"][0]["reference"]]["identifier"][0]["value"]:
             resources[p["entity"][0]["what"]["reference"]]["identifier"][0]["value"]
             for p in provenances if activity(p) == [(DATA_OPERATION, "UPDATE")]}
    assert links == {"l1#1": "l1", "l1#2": "l1", "m1#1": "m1"}
    assert all(len(p["entity"]) == 1 and p["entity"][0]["role"] == "revision"
               for p in provenances if "entity" in p)
    retractions = [p for p in provenances if activity(p) == [(DATA_OPERATION, "NULLIFY")]]
    assert [[resources[t["reference"]]["identifier"][0]["value"] for t in p["target"]]
            for p in retractions] == [["m1", "m1#1"], ["m2"]]  # in the thread's order
    m2 = session.get(Message, _message_id(session, "m2"))
    assert retractions[1]["recorded"] == fhir_export.instant(m2.retracted_at)
    assert retractions[1]["agent"] == [{"who": messages["m2"]["sender"]}]
    # Corrections are not messages: replies still point at the messages themselves.
    assert messages["m3"]["inResponseTo"] == [{"reference": url_of[id(messages["l1"])]}]
    # An administrator without text sees the record's shape, no corrected words either.
    admin = actor_of(session, make_admin(session))
    quiet = fhir_export.export_conversation(session, actor=admin, conversation_id=conversation.id)
    Bundle.model_validate(quiet)
    assert "cream's label" not in json.dumps(quiet) and "spreading" not in json.dumps(quiet)
    assert len(_resources(quiet, "Provenance")) == 5


def test_round_trip_restores_retractions_and_corrections(session, changed, empty_clinic):
    people, conversation = changed
    first = fhir_export.export_conversation(session, actor=people["lee"],
                                            conversation_id=conversation.id)
    other, actors = empty_clinic
    report = fhir_import.import_bundle(other, actor=actors["patel"], raw=json.dumps(first))
    other.commit()  # the caller's unit of work
    assert report.messages == 4  # corrections are not messages
    again = fhir_export.export_conversation(other, actor=actors["lee"],
                                            conversation_id=report.conversation_ids[0])
    assert _normalized(again) == _normalized(first)
    # The rows are those the retract/correct service writes, times and texts included.
    for cid in ("m1", "l1", "m2", "m3"):
        before = session.get(Message, _message_id(session, cid))
        after = other.get(Message, _message_id(other, cid))
        assert (after.retracted_at, after.corrected_at) == (before.retracted_at,
                                                            before.corrected_at)
    history = message_history(other, actor=actors["lee"], message_id=_message_id(other, "l1"))
    assert [(h.kind, h.text) for h in history] == [
        ("original", "Please send a photo and the label."),
        ("correct", "Please send a photo of the rash."),
        ("correct", "Please send a photo of the rash and the cream's label.")]
    assert [(h.kind, h.by) for h in message_history(
        other, actor=actors["lee"], message_id=_message_id(other, "m1"))] == [
        ("original", "Maria Garcia"), ("correct", "Maria Garcia"), ("retract", "Maria Garcia")]
    rows = other.exec(select(MessageRevision).where(MessageRevision.body_ct.is_not(None))).all()
    assert rows and all(b"rash" not in row.body_ct for row in rows)  # stored encrypted


def test_inconsistent_changes_are_refused_with_nothing_written(session, changed, empty_clinic):
    people, conversation = changed
    good = fhir_export.export_conversation(session, actor=people["lee"],
                                           conversation_id=conversation.id)
    other, actors = empty_clinic
    lee = actors["lee"]

    def retraction_of(bundle, client_msg_id):
        urls = {r["id"]: url for url, r in _by_url(bundle).items()}
        target = next(urls[c["id"]] for c in _resources(bundle, "Communication")
                      if c.get("identifier", [{}])[0].get("value") == client_msg_id)
        return next(p for p in _resources(bundle, "Provenance")
                    if p["target"][0]["reference"] == target)

    # Marked in error, but nothing says it was retracted or corrected.
    unexplained = copy.deepcopy(good)
    unexplained["entry"] = [e for e in unexplained["entry"]
                            if e["resource"] is not retraction_of(unexplained, "m2")]
    assert "does not match its retraction" in _refused(other, lee, unexplained)
    # Retracted by someone else than the sender.
    forged = copy.deepcopy(good)
    retraction_of(forged, "m2")["agent"][0]["who"] = _resources(forged, "Communication")[0][
        "recipient"][0]
    assert "other than its sender" in _refused(other, lee, forged)
    # A correction dated after the message's retraction.
    late = copy.deepcopy(good)
    correction = next(p for p in _resources(late, "Provenance") if "entity" in p
                      and p["entity"][0]["what"]["reference"]
                      == retraction_of(late, "m1")["target"][0]["reference"])
    correction["recorded"] = "2999-01-01T00:00:00+00:00"
    assert "after its retraction" in _refused(other, lee, late)
    # A "correction" that points at the thread header instead of a message's new text.
    on_header = copy.deepcopy(good)
    header_url = next(e["fullUrl"] for e in on_header["entry"]
                      if e["resource"] is _resources(on_header, "Communication")[0])
    next(p for p in _resources(on_header, "Provenance") if "entity" in p)["target"] = [
        {"reference": header_url}]
    assert "its own new text" in _refused(other, lee, on_header)
    fhir_import.import_bundle(other, actor=lee, raw=good)
    other.commit()
    assert other.exec(select(func.count()).select_from(MessageRevision)).one() == 5
