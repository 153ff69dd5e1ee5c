"""The clinic-scale data set, built with bulk inserts (not through the UI or per-row ORM).

Shape (defaults): the demo clinic (``seed_demo``: sign-in users such as jordan.lee@demo.care)
plus 2,000 patients; 1,800 of them on the primary care team (Dr. Jordan Lee, Dr. Priya Patel,
NP Sam Rivera) and 200 only on Dr. Casey Novak's team (data Jordan must never see). Jordan sees
exactly ``VISIBLE_CONVERSATIONS`` conversations; 1,000 more belong to Casey's patients. Messages
(1,000,000 in all, demo ones included) are spread over the conversations in time order, so message
ids grow with time; conversation ``BIG_THREAD`` holds exactly 5,000. Bodies are AES-GCM encrypted
exactly as the app does it (aad ``msg:v2:<conversation_id>:<seq>:<sender>``) and indexed in the search table.

SQLite: one transaction on a raw connection with journaling off and a large cache; the result
is cached as ``bench/data/clinic-v<SCHEMA>-<messages>.db`` (plus its key file), so re-runs skip
seeding. PostgreSQL: the same rows through COPY into database ``care_bench_v<KEY>_<n>``.
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
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import progress

GENERATOR_VERSION = 4  # bump when the generated data should change
DATA_DIR = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def _schema_key() -> str:
    """Generator version + a hash of the migrations and this generator: a new migration or a
    generator change rebuilds the cache by itself."""
    digest = hashlib.sha256()
    here = Path(__file__)
    sources = [*sorted((ROOT / "alembic" / "versions").glob("*.py")), here,
               here.with_name("loader.py")]
    for path in sources:
        digest.update(path.name.encode() + path.read_bytes())
    return f"{GENERATOR_VERSION}-{digest.hexdigest()[:8]}"


SCHEMA_VERSION = _schema_key()
PATIENTS = 2000
INVISIBLE_PATIENTS = 200
VISIBLE_CONVERSATIONS = 10_000
INVISIBLE_CONVERSATIONS = 1_000
MESSAGES = 1_000_000
BIG_THREAD_MESSAGES = 5000
BENCH_PROVIDER = "jordan.lee@demo.care"
PASSWORD = "CareDemo!2026"

BASE_LINES = [
    "Your results look stable compared with last time. No changes needed for now.",
    "Please keep taking the medication with food and let us know about any side effects.",
    "I've sent the prescription to your pharmacy. It should be ready tomorrow.",
    "Let's schedule a follow-up in two weeks to see how things are going.",
    "Your blood pressure readings are trending down, which is great progress.",
    "Please remember to fast for 8 hours before the blood draw.",
    "If the pain gets worse or you develop a fever, call the clinic right away.",
    "Thanks for the update. I'll review it with the team and get back to you today.",
    "The imaging report is normal. We can talk through it at your next visit.",
    "Thank you, that's reassuring.",
    "I've had some mild dizziness in the mornings since the dose change.",
    "Can I take ibuprofen with this medication?",
    "The swelling has gone down a lot since Monday.",
    "Is it okay to reschedule to Thursday afternoon?",
    "I checked my pressure this morning: 128 over 82.",
    "I'm still feeling tired most afternoons. Is that expected?",
    "Got it, I'll pick it up tomorrow.",
    "Do I need to bring anything to the appointment?",
    "My insurance asked for a referral number. Could you send it?",
    "The new inhaler helps, but I still cough at night.",
]
SYLLABLES = ["zan", "tor", "mel", "quix", "bro", "dal", "vet", "rin", "pox", "sul", "kem", "yat"]
RARE_WORDS = 20_000  # synthetic drug/code names; each appears in a handful of messages
RARE_RATE = 0.3
MRN_RATE = 0.02


def rare_word(n: int) -> str:
    a, b, c = n % 12, (n // 12) % 12, (n // 144) % 12
    return f"{SYLLABLES[a]}{SYLLABLES[b]}{SYLLABLES[c]}{n // 1728}"


def ts(dt: datetime) -> str:
    """The app's stored form of a UTC timestamp (naive text, microseconds)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def mrn(i: int) -> str:
    return f"B-{500000 + i * 13}"


@dataclass
class Plan:
    """What was generated: the ids scenarios need."""

    path: str = ""
    url: str = ""
    key_text: str = ""
    provider_email: str = BENCH_PROVIDER
    big_conversation_id: int = 0
    messages: int = 0
    conversations_visible: int = 0
    patient_emails: list[str] = field(default_factory=list)
    provider_emails: list[str] = field(default_factory=list)
    search_queries: dict[str, list[str]] = field(default_factory=dict)


def _key_from_text(key_text: str) -> bytes:
    return base64.urlsafe_b64decode(key_text.split(":", 1)[1])


def _search_key(key: bytes) -> bytes:
    # Same derivation as care_messaging.crypto._search_key.
    return hmac.new(key, b"care-messaging blind index v1", hashlib.sha256).digest()


class Tokenizer:
    """crypto.search_terms with caches: texts repeat, words repeat."""

    def __init__(self, key: bytes) -> None:
        from care_messaging.crypto import _WORD

        self._word_re = _WORD
        self._skey = _search_key(key)
        self._words: dict[str, str] = {}
        self._texts: dict[str, frozenset[str]] = {}

    def word(self, w: str) -> str:
        h = self._words.get(w)
        if h is None:
            h = hmac.new(self._skey, w.encode(), hashlib.sha256).hexdigest()[:32]
            self._words[w] = h
        return h

    def text(self, text: str) -> frozenset[str]:
        toks = self._texts.get(text)
        if toks is None:
            words = {w.lower() for w in self._word_re.findall(text) if len(w) >= 2}
            toks = frozenset(self.word(w) for w in words)
            self._texts[text] = toks
        return toks


def generate(conversation_ids: list[int], big_id: int, total: int, rng: random.Random):
    """Yield (conversation_id, text_base, extra_words) in time order."""
    quota = {big_id: BIG_THREAD_MESSAGES}
    others = [c for c in conversation_ids if c != big_id]
    rest = total - BIG_THREAD_MESSAGES
    for i, c in enumerate(others):
        quota[c] = rest // len(others) + (1 if i < rest % len(others) else 0)
    order = array("i")
    for c, q in quota.items():
        order.extend([c] * q)
    # Fisher-Yates on the int array (random.shuffle works on arrays too).
    rng.shuffle(order)  # type: ignore[arg-type]
    return order


def build_rows(plan_ctx, rng: random.Random, count: int, start_id: int, conv_ids, big_id,
               senders, key: bytes, key_id: str, tokenizer: Tokenizer, t0: datetime,
               span_seconds: float, mrn_of_conv):
    """Generate message rows in chunks: (id, conv, sender, seq, client_id, ct, key_id, at) and
    FTS documents. Returns a generator of (message_rows, fts_rows, last_by_conv updates)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from care_messaging.crypto import message_aad

    aes = AESGCM(key)
    order = generate(conv_ids, big_id, count, rng)
    seq: dict[int, int] = {}
    chunk_m, chunk_f = [], []
    step = span_seconds / max(1, count)
    rare_hits = plan_ctx.setdefault("rare_hits", {})
    mrn_hits = plan_ctx.setdefault("mrn_hits", {})
    for i, c in enumerate(order):
        mid = start_id + i
        s = seq.get(c, 0) + 1
        seq[c] = s
        base = BASE_LINES[rng.randrange(len(BASE_LINES))]
        text = base
        toks = tokenizer.text(base)
        r = rng.random()
        if r < RARE_RATE:
            w = rare_word(int(rng.paretovariate(1.2) * 7) % RARE_WORDS)
            text = f"{base} Ask about {w}."
            toks = toks | {tokenizer.word(w), tokenizer.word("ask"), tokenizer.word("about")}
            rare_hits[w] = rare_hits.get(w, 0) + 1
        elif r < RARE_RATE + MRN_RATE:
            m = mrn_of_conv[c]
            text = f"{base} Ref {m}"
            toks = toks | tokenizer.text(f"Ref {m}")
            mrn_hits[m] = mrn_hits.get(m, 0) + 1
        sender = senders[c][s % 2]
        nonce = os.urandom(12)
        ct = nonce + aes.encrypt(nonce, text.encode(), message_aad(c, s, sender).encode())
        at = t0 + timedelta(seconds=i * step)
        chunk_m.append((mid, c, sender, s, f"bench-{mid}", ct, key_id, ts(at)))
        chunk_f.append((mid, " ".join(sorted(toks))))
        if len(chunk_m) >= 20_000:
            yield chunk_m, chunk_f, seq
            chunk_m, chunk_f = [], []
    if chunk_m:
        yield chunk_m, chunk_f, seq


def _migrate_and_seed_demo(url: str) -> None:
    from sqlmodel import Session

    from care_messaging.cli import migrate
    from care_messaging.db import make_engine
    from care_messaging.services.seed import seed_demo

    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session)
        session.commit()  # the caller's unit of work: services never commit
    engine.dispose()


def _set_env(url: str, key_text: str, data_dir: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["CARE_ENCRYPTION_KEYS"] = key_text
    os.environ["CARE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("CARE_ENV", "test")
    from care_messaging import db
    from care_messaging.settings import get_settings

    get_settings.cache_clear()
    db.get_engine.cache_clear()


def sqlite_path(messages: int) -> Path:
    return DATA_DIR / f"clinic-v{SCHEMA_VERSION}-{messages}.db"


def build(*, messages: int = MESSAGES, scaleout_url: str | None = None,
          force: bool = False) -> Plan:
    """Build (or reuse) the data set; returns the plan. Sets DATABASE_URL/keys in os.environ."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stem = sqlite_path(messages) if scaleout_url is None else DATA_DIR / (
        f"pg-v{SCHEMA_VERSION}-{messages}")
    key_file = stem.with_suffix(".keys")
    plan_file = stem.with_suffix(".plan.json")
    import json

    if scaleout_url is None:
        url = f"sqlite:///{stem}"
        exists = stem.exists()
    else:
        url = scaleout_url
        exists = _pg_ready(url)
    if exists and plan_file.exists() and key_file.exists() and not force:
        plan = Plan(**json.loads(plan_file.read_text()))
        plan.path, plan.url = str(stem), url
        _set_env(url, plan.key_text, DATA_DIR)
        print(f"data set: cached {stem.name} ({plan.messages:,} messages)")
        return plan
    if scaleout_url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{stem}{suffix}").unlink(missing_ok=True)
    else:
        _pg_recreate(url)
    key_text = "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    key_file.write_text(key_text + "\n")
    _set_env(url, key_text, DATA_DIR)
    started = time.monotonic()
    print(f"data set: building {stem.name} ({messages:,} messages)...", flush=True)
    _migrate_and_seed_demo(url)
    plan = Plan(path=str(stem), url=url, key_text=key_text, messages=messages)
    if scaleout_url is None:
        conn = sqlite3.connect(stem, isolation_level=None)
        from bench.loader import SqliteLoader

        loader = SqliteLoader(conn)
    else:
        from bench.loader import PgLoader

        loader = PgLoader(url)
    _bulk(loader, plan, messages)
    loader.finish()
    plan_file.write_text(json.dumps(plan.__dict__, indent=1))
    print(f"data set: built in {time.monotonic() - started:.0f}s", flush=True)
    return plan


def _pg_admin(url: str):
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    return psycopg.connect(admin_url, autocommit=True)


def _pg_ready(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name='bench_done'"
            ).fetchone()[0] == 1
    except psycopg.OperationalError:
        return False


def _pg_recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _bulk(loader, plan: Plan, messages: int) -> None:
    rng = random.Random(7)
    key = _key_from_text(plan.key_text)
    tokenizer = Tokenizer(key)
    q = loader.query
    pw_hash = q("SELECT password_hash FROM users WHERE email = ?", (BENCH_PROVIDER,))[0][0]
    providers = {e: (uid, pid) for e, uid, pid in q(
        "SELECT u.email, u.id, p.id FROM users u JOIN providers p ON p.user_id = u.id")}
    lee_uid, lee_pid = providers[BENCH_PROVIDER]
    primary = [providers[e] for e in
               ("jordan.lee@demo.care", "priya.patel@demo.care", "sam.rivera@demo.care")]
    outside = [providers["casey.novak@demo.care"]]
    now = datetime.now(UTC).replace(tzinfo=None)
    next_user = q("SELECT max(id) FROM users")[0][0] + 1
    next_patient = q("SELECT max(id) FROM patients")[0][0] + 1
    users, patients, team = [], [], []
    for i in range(PATIENTS):
        uid, pid = next_user + i, next_patient + i
        email = f"bench.patient{i}@bench.care"
        users.append((uid, email, f"Bench Patient {i}", "patient", pw_hash, 1, None, "", 0, 0,
                      ts(now)))
        patients.append((pid, uid, mrn(i), "Bench", f"Patient{i:04d}", None, "",
                         "secure_message"))
        for _uid, prov in (outside if i >= PATIENTS - INVISIBLE_PATIENTS else primary):
            team.append((pid, prov, ts(now)))
    plan.patient_emails = [f"bench.patient{i}@bench.care" for i in range(20)]
    plan.provider_emails = ["jordan.lee@demo.care", "priya.patel@demo.care",
                            "sam.rivera@demo.care"]
    loader.insert("users", ["id", "email", "display_name", "role", "password_hash", "is_active",
                            "totp_secret_ct", "totp_key_id", "totp_enabled", "totp_required",
                            "created_at"], users)
    loader.insert("patients", ["id", "user_id", "mrn", "first_name", "last_name",
                               "date_of_birth", "phone", "preferred_medium"], patients)
    loader.insert("care_team_members", ["patient_id", "provider_id", "added_at"], team)
    demo_visible = q(
        "SELECT count(*) FROM conversations WHERE patient_id IN "
        "(SELECT patient_id FROM care_team_members WHERE provider_id = ?)", (lee_pid,))[0][0]
    demo_messages = q("SELECT count(*) FROM messages")[0][0]
    n_visible = VISIBLE_CONVERSATIONS - demo_visible
    next_conv = q("SELECT max(id) FROM conversations")[0][0] + 1
    convs, senders, mrn_of_conv, patient_of = [], {}, {}, {}
    categories = ["test_results", "appointment", "medication", "care_instructions",
                  "health_education", "check_in", "administrative"]
    visible_patients = PATIENTS - INVISIBLE_PATIENTS
    for k in range(n_visible + INVISIBLE_CONVERSATIONS):
        cid = next_conv + k
        i = k % visible_patients if k < n_visible else (
            visible_patients + k % INVISIBLE_PATIENTS)
        prov_uid = (primary if k < n_visible else outside)[k % (3 if k < n_visible else 1)][0]
        senders[cid] = (next_user + i, prov_uid)
        mrn_of_conv[cid] = mrn(i)
        patient_of[cid] = next_patient + i
        convs.append(cid)
    big_id = convs[0]
    span = 400 * 24 * 3600.0
    t0 = now - timedelta(seconds=span)
    total = messages - demo_messages
    ctx: dict = {}
    last: dict[int, tuple[int, str]] = {}
    bar = progress.Bar("messages", total)
    start_id = q("SELECT max(id) FROM messages")[0][0] + 1
    seq_final: dict[int, int] = {}
    for rows, docs, seq in build_rows(ctx, rng, total, start_id, convs, big_id, senders, key,
                                      "k1", tokenizer, t0, span, mrn_of_conv):
        loader.insert("messages", ["id", "conversation_id", "sender_user_id", "seq",
                                   "client_msg_id", "body_ct", "key_id", "created_at"], rows)
        loader.insert_fts(docs)
        for r in rows:
            last[r[1]] = (r[0], r[7])
        seq_final = seq
        bar.advance(len(rows))
    bar.done()
    conv_rows, reads = [], []
    for k, cid in enumerate(convs):
        mid, at = last[cid]
        cat = categories[k % len(categories)]
        conv_rows.append((
            cid, patient_of[cid], f"Bench topic {k % 97}: {cat.replace('_', ' ')}",
            ["active", "needs_attention", "completed"][k % 3],
            ["routine", "urgent", "high"][(k // 3) % 3], cat, "secure_message",
            f"Bench reason {k}", senders[cid][1], senders[cid][1], ts(t0), at,
            seq_final[cid], mid, None))
        n = seq_final[cid]
        unread = (k % 4 == 0) * min(n, 1 + k % 5)
        reads.append((lee_uid, cid, n - unread, n, at, at))
        reads.append((senders[cid][0], cid, n, n, at, at))
    loader.insert("conversations", [
        "id", "patient_id", "topic", "status", "priority", "category", "medium", "reason",
        "created_by_user_id", "provider_user_id", "created_at", "last_message_at", "last_seq",
        "last_message_id", "first_provider_reply_at"], conv_rows, before_messages=True)
    loader.insert("read_states", ["user_id", "conversation_id", "last_read_seq",
                                  "last_delivered_seq", "read_at", "delivered_at"], reads)
    plan.big_conversation_id = big_id
    plan.conversations_visible = VISIBLE_CONVERSATIONS
    plan.search_queries = _queries(ctx, rng)
    print(f"  visible conversations for {BENCH_PROVIDER}: {demo_visible + n_visible:,}",
          file=sys.stderr)


def _queries(ctx: dict, rng: random.Random) -> dict[str, list[str]]:
    """40 queries: rare words, common words/phrases, patient ids, and misses."""
    rare = sorted(ctx["rare_hits"].items(), key=lambda kv: kv[1])
    few = [w for w, n in rare if n <= 5]
    some = [w for w, n in rare if 20 <= n <= 500]
    mrns = sorted(ctx["mrn_hits"])
    return {
        "rare": [*rng.sample(few, min(12, len(few))), "nonexistentword", "qqzzx"],
        "common": ["blood", "medication", "tomorrow", "blood pressure", "dose change",
                   "pharmacy prescription", "clinic", "the", "thursday", "insurance referral",
                   "ask about", *rng.sample(some, min(3, len(some)))],
        "patient_id": [*rng.sample(mrns, min(10, len(mrns))), "B-999999", "ref B-500013"],
    }
