"""Clinic-scale data, bulk-inserted: 2,000 patients, 10,000 conversations on one provider's care
team, 1,000,000 encrypted messages (one thread of 5,000), read states and the search index.

Bulk executemany in one transaction with journaling relaxed during the load; the result is
cached under bench/data/ keyed by SCHEMA_VERSION so later runs start at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA_VERSION = "v3-0003"
DATA_DIR = Path(__file__).resolve().parent / "data"
PROVIDER_EMAIL = "bench.provider@bench.care"
COLLEAGUE_EMAIL = "bench.colleague@bench.care"
PATIENT_EMAIL = "bench.patient0@bench.care"
PASSWORD = "Bench-Password-1"
BIG_THREAD_MESSAGES = 5000

WORDS = ["blood", "pressure", "results", "stable", "medication", "dose", "follow", "up", "appointment", "fever", "rash", "cough", "pain", "swelling", "dizziness", "refill", "pharmacy", "insurance", "referral", "imaging", "normal", "fasting", "lab", "potassium", "glucose", "cholesterol", "sleep", "tired", "headache", "nausea", "wound", "dressing", "exercise", "diet", "vaccine", "allergy", "inhaler", "thyroid", "kidney", "liver", "heart", "rhythm", "monitor", "schedule", "question", "thanks", "update", "please", "call", "clinic", "tomorrow", "morning", "afternoon", "week", "today"]


def _progress(label: str, done: int, total: int, started: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.monotonic() - started, 1e-6)
    sys.stdout.write(f"\r  {label:<12} [{'#' * filled}{'.' * (width - filled)}] "
                     f"{done:>9,}/{total:,}  {rate:,.0f}/s ")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


def bench_key_text() -> str:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "bench.keys"
    if not path.exists():
        path.write_text("kb:" + base64.urlsafe_b64encode(os.urandom(32)).decode())
    return path.read_text().strip()


def database_path(small: bool) -> Path:
    return DATA_DIR / f"bench-{SCHEMA_VERSION}-{'small' if small else 'full'}.db"


def build(*, small: bool = False, force: bool = False) -> Path:
    """Create (or reuse) the bench database; returns its path."""
    path = database_path(small)
    if path.exists() and not force:
        print(f"  reusing {path.name}")
        return path
    patients, conversations, messages = (200, 1000, 50_000) if small else (2000, 10_000, 1_000_000)
    key_text = bench_key_text()
    key_id, b64 = key_text.split(":", 1)
    key = base64.urlsafe_b64decode(b64)
    os.environ["CARE_ENCRYPTION_KEYS"] = key_text
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    from care_messaging.cli import migrate
    from care_messaging.services.passwords import hash_password

    migrate(f"sqlite:///{tmp}")
    db = sqlite3.connect(tmp)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-400000;")
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = lambda dt: dt.isoformat(sep=" ")  # noqa: E731 - how SQLModel stores UTC datetimes
    pw = hash_password(PASSWORD)
    started = time.monotonic()
    users = [(1, PROVIDER_EMAIL, "Dr. Bench Provider", "provider"),
             (2, COLLEAGUE_EMAIL, "Dr. Bench Colleague", "provider")]
    users += [(3 + i, f"bench.patient{i}@bench.care", f"Patient {i:04d} Bench", "patient")
              for i in range(patients)]
    db.executemany("insert into users (id, email, display_name, role, password_hash, is_active, "
                   "totp_key_id, totp_enabled, totp_required, created_at) values "
                   "(?, ?, ?, ?, ?, 1, '', 0, 0, ?)",
                   [(*u, pw, stamp(now)) for u in users])
    db.executemany("insert into providers (id, user_id, title, specialty) values (?, ?, 'Dr.', '')",
                   [(1, 1), (2, 2)])
    db.executemany("insert into patients (id, user_id, mrn, first_name, last_name, phone, "
                   "preferred_medium) values (?, ?, ?, ?, ?, '', 'secure_message')",
                   [(i + 1, 3 + i, f"P-{500000 + i}", "Patient", f"Bench{i:04d}")
                    for i in range(patients)])
    db.executemany("insert into care_team_members (patient_id, provider_id, added_at) "
                   "values (?, ?, ?)",
                   [(p + 1, prov, stamp(now)) for p in range(patients) for prov in (1, 2)])
    statuses, priorities = ("active", "needs_attention", "completed"), ("routine", "urgent", "high")
    cats = ("test_results", "appointment", "medication", "care_instructions", "check_in")
    conv_rows = []
    for c in range(conversations):
        conv_rows.append((c + 1, (c % patients) + 1, f"{cats[c % 5].replace('_', ' ')} #{c}",
                          statuses[c % 3], priorities[c % 3], cats[c % 5], 1,
                          stamp(now - timedelta(days=60))))
    db.executemany("insert into conversations (id, patient_id, topic, status, priority, category, "
                   "medium, reason, created_by_user_id, created_at, last_message_at, last_seq) "
                   "values (?, ?, ?, ?, ?, ?, 'secure_message', '', ?, ?, ?, 0)",
                   [(*r, r[-1]) for r in conv_rows])
    # Message counts: conversation 1 is the 5,000-message thread; the rest share the remainder.
    counts = [BIG_THREAD_MESSAGES if not small else 500]
    rest = messages - counts[0]
    base, extra = divmod(rest, conversations - 1)
    counts += [base + (1 if i < extra else 0) for i in range(conversations - 1)]
    aes = AESGCM(key)
    search_key = hmac.new(key, b"care-messaging blind index v1", hashlib.sha256).digest()
    word_hash = {w: hmac.new(search_key, w.encode(), hashlib.sha256).hexdigest()[:32]
                 for w in WORDS}
    message_id = 0
    batch_m, batch_t = [], []
    last = {}
    load_started = time.monotonic()
    for c, count in enumerate(counts, start=1):
        patient_user = 3 + ((c - 1) % patients)
        start = now - timedelta(days=60)
        step = timedelta(days=59) / max(count, 1)
        for seq in range(1, count + 1):
            message_id += 1
            words = rng.sample(WORDS, 7)
            if message_id % 9973 == 0:
                words.append(f"rarecode{message_id % 40}")
            body = " ".join(words).encode()
            nonce = os.urandom(12)
            blob = nonce + aes.encrypt(nonce, body, f"msg:{c}".encode())
            sender = patient_user if seq % 2 else (1 if seq % 4 else 2)
            at = start + step * seq
            batch_m.append((message_id, c, sender, seq, f"bench-{message_id}", blob, key_id,
                            stamp(at)))
            for w in set(words):
                h = word_hash.get(w) or hmac.new(search_key, w.encode(),
                                                 hashlib.sha256).hexdigest()[:32]
                batch_t.append((h, message_id, c))
            last[c] = (message_id, seq, at)
        if len(batch_m) >= 50_000 or c == len(counts):
            db.executemany("insert into messages (id, conversation_id, sender_user_id, seq, "
                           "client_msg_id, body_ct, key_id, created_at) values "
                           "(?, ?, ?, ?, ?, ?, ?, ?)", batch_m)
            db.executemany("insert into message_search_terms (term, message_id, conversation_id) "
                           "values (?, ?, ?)", batch_t)
            batch_m, batch_t = [], []
            _progress("messages", message_id, messages, load_started)
    db.executemany("update conversations set last_seq = ?, last_message_id = ?, "
                   "last_message_at = ? where id = ?",
                   [(seq, mid, stamp(at), c) for c, (mid, seq, at) in last.items()])
    # The provider has read all but the last message of every 4th conversation.
    db.executemany("insert into read_states (user_id, conversation_id, last_read_seq, "
                   "last_delivered_seq) values (?, ?, ?, ?)",
                   [(1, c, seq - (1 if c % 4 == 0 else 0), seq) for c, (_, seq, _) in last.items()])
    db.commit()
    db.execute("ANALYZE")
    db.executescript("PRAGMA journal_mode=WAL;")
    db.close()
    os.replace(tmp, path)
    print(f"  built {path.name} in {time.monotonic() - started:.0f}s "
          f"({path.stat().st_size / 1e6:,.0f} MB)")
    return path
