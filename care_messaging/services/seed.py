"""Demo clinic: providers, patients, care teams, conversations and two months of messages.

Deterministic (seeded RNG) and idempotent: running it twice leaves one copy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from care_messaging import crypto
from care_messaging.models import (
    CareTeamMember,
    Category,
    Conversation,
    ConversationStatus,
    Medium,
    Message,
    Patient,
    Priority,
    Provider,
    ReadState,
    Role,
    User,
    id_of,
    utcnow,
)
from care_messaging.services import daily_counts
from care_messaging.services.passwords import hash_password
from care_messaging.services.search import index_message

DEMO_PASSWORD = "CareDemo!2026"
ADMIN_EMAIL = "admin@demo.care"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str


# (title, first, last, specialty, team) - team "primary" shares patients 1-20,
# "cardiology" patients 15-30, "outside" only patients 27-30.
PROVIDERS = [
    ("Dr.", "Jordan", "Lee", "Family Medicine", "primary"),
    ("Dr.", "Priya", "Patel", "Internal Medicine", "primary"),
    ("NP", "Sam", "Rivera", "Nurse Practitioner", "primary"),
    ("Dr.", "Alex", "Chen", "Cardiology", "cardiology"),
    ("Dr.", "Morgan", "Okafor", "Cardiology", "cardiology"),
    ("Dr.", "Casey", "Novak", "Dermatology", "outside"),
]
LEAD = ("Jordan", "Lee")  # the demo's clinic lead (services/response_times.py)
TEAM_PATIENTS = {"primary": range(20), "cardiology": range(14, 30), "outside": range(26, 30)}

FIRST = ["Maria", "James", "Aisha", "Robert", "Mei", "David", "Sofia", "Michael", "Fatima", "John",
         "Elena", "William", "Hana", "Carlos", "Grace", "Ahmed", "Olivia", "Daniel", "Yuki", "Thomas",
         "Amara", "Lucas", "Nora", "Ethan", "Leila", "Henry", "Zoe", "Samuel", "Ines", "Noah"]
LAST = ["Garcia", "Smith", "Khan", "Johnson", "Wong", "Brown", "Rossi", "Davis", "Ali", "Miller",
        "Petrova", "Wilson", "Sato", "Lopez", "Kim", "Hassan", "Taylor", "Moore", "Tanaka", "Clark",
        "Mensah", "Silva", "Berg", "Walker", "Haddad", "Young", "Martin", "Adams", "Costa", "Scott"]

TOPICS = {
    Category.TEST_RESULTS: ("Lab results: lipid panel", "Your lab results are in"),
    Category.APPOINTMENT: ("Follow-up visit scheduling", "Appointment reminder"),
    Category.MEDICATION: ("Metformin dose change", "Medication update"),
    Category.CARE_INSTRUCTIONS: ("Wound care after procedure", "Post-visit care plan"),
    Category.HEALTH_EDUCATION: ("Managing blood pressure at home", "Healthy sleep habits"),
    Category.CHECK_IN: ("How are you feeling this week?", "Checking in after your visit"),
    Category.ADMINISTRATIVE: ("Insurance pre-authorization", "Billing question"),
}
PROVIDER_LINES = [
    "Your results look stable compared with last time. No changes needed for now.",
    "Please keep taking the medication with food and let us know about any side effects.",
    "Could you send a photo of the area so I can take a closer look?",
    "I've sent the prescription to your pharmacy. It should be ready tomorrow.",
    "Let's schedule a follow-up in two weeks to see how things are going.",
    "Your blood pressure readings are trending down, which is great progress.",
    "Please remember to fast for 8 hours before the blood draw.",
    "If the pain gets worse or you develop a fever, call the clinic right away.",
    "Thanks for the update. I'll review it with the team and get back to you today.",
    "The imaging report is normal. We can talk through it at your next visit.",
]
PATIENT_LINES = [
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
]


def _user(session: Session, *, email: str, name: str, role: str, password_hash: str) -> User:
    user = User(email=email, display_name=name, role=role, password_hash=password_hash)
    session.add(user)
    session.flush()
    return user


def demo_logins() -> list[DemoLogin]:
    return [
        DemoLogin("provider", "jordan.lee@demo.care", "Dr. Jordan Lee"),
        DemoLogin("provider", "priya.patel@demo.care", "Dr. Priya Patel (same care team)"),
        DemoLogin("provider", "casey.novak@demo.care", "Dr. Casey Novak (other team)"),
        DemoLogin("patient", "maria.garcia@demo.care", "Maria Garcia"),
        DemoLogin("patient", "james.smith@demo.care", "James Smith"),
        DemoLogin("admin", ADMIN_EMAIL, "Clinic Administrator"),
    ]


def is_seeded(session: Session) -> bool:
    return session.exec(select(User.id).where(User.email == ADMIN_EMAIL)).first() is not None


def seed_demo(session: Session, *, conversations: int = 100, messages: int = 1500) -> bool:
    """Create the demo clinic once. Returns False when it already exists."""
    if is_seeded(session):
        return False
    rng = random.Random(20261123)
    password_hash = hash_password(DEMO_PASSWORD)
    _user(session, email=ADMIN_EMAIL, name="Clinic Administrator", role=Role.ADMIN,
          password_hash=password_hash)
    providers: list[tuple[Provider, User, str]] = []
    for title, first, last, specialty, team in PROVIDERS:
        user = _user(session, email=f"{first}.{last}@demo.care".lower(),
                     name=f"{title} {first} {last}", role=Role.PROVIDER, password_hash=password_hash)
        # Dr. Lee leads the clinic: the demo shows the response-times page.
        provider = Provider(user_id=id_of(user), title=title, specialty=specialty,
                            is_lead=(first, last) == LEAD)
        session.add(provider)
        session.flush()
        providers.append((provider, user, team))
    patients: list[tuple[Patient, User]] = []
    for i, (first, last) in enumerate(zip(FIRST, LAST, strict=True)):
        user = _user(session, email=f"{first}.{last}@demo.care".lower(), name=f"{first} {last}",
                     role=Role.PATIENT, password_hash=password_hash)
        patient = Patient(
            user_id=id_of(user), mrn=f"P-{100200 + i * 7}", first_name=first, last_name=last,
            date_of_birth=date(1950 + (i * 3) % 50, 1 + i % 12, 1 + (i * 5) % 28),
            phone=f"(555) 01{i:02d}-{1000 + i * 37}",
            preferred_medium=list(Medium)[i % len(Medium)],
        )
        session.add(patient)
        session.flush()
        patients.append((patient, user))
    team_of: dict[int, list[tuple[Provider, User]]] = {}
    for provider, user, team in providers:
        for index in TEAM_PATIENTS[team]:
            patient = patients[index][0]
            session.add(CareTeamMember(patient_id=id_of(patient), provider_id=id_of(provider)))
            team_of.setdefault(index, []).append((provider, user))
    session.flush()
    _seed_conversations(session, rng, patients, team_of, conversations, messages)
    session.flush()
    daily_counts.rebuild(session)  # the messages above were inserted directly
    session.flush()
    return True


def _seed_conversations(session: Any, rng: Any, patients: Any, team_of: Any,
                        conversation_count: int, message_count: int) -> None:
    now = utcnow()
    statuses, priorities = list(ConversationStatus), list(Priority)
    categories, mediums = list(Category), list(Medium)
    per_conversation = [message_count // conversation_count] * conversation_count
    for i in range(message_count % conversation_count):
        per_conversation[i] += 1
    for c in range(conversation_count):
        # Maria Garcia (index 0) and James Smith (index 1) get several conversations each.
        p_index = c % 5 if c < 10 else rng.randrange(len(patients))
        patient, patient_user = patients[p_index]
        team = team_of[p_index]
        category = categories[c % len(categories)]
        started = now - timedelta(days=rng.uniform(2, 60))
        span = (now - started) * rng.uniform(0.3, 0.98)
        count = per_conversation[c]
        times = sorted(started + span * rng.random() for _ in range(count))
        times[0] = started
        _provider, provider_user = team[c % len(team)]
        conversation = Conversation(
            patient_id=patient.id, topic=TOPICS[category][c % 2], category=category,
            status=statuses[c % len(statuses)], priority=priorities[(c // 3) % len(priorities)],
            medium=mediums[c % len(mediums)],
            reason=f"{category.value.replace('_', ' ').capitalize()} for {patient.first_name}",
            created_by_user_id=provider_user.id if c % 3 else patient_user.id,
            provider_user_id=provider_user.id, created_at=started,
        )
        session.add(conversation)
        session.flush()
        senders = []
        for k in range(count):
            from_patient = (k % 2 == 1) if c % 3 else (k % 2 == 0)
            if c % 4 == 0 and k == count - 1:
                from_patient = True  # ends on a patient message the team has not read
            senders.append(from_patient)
        last_message = None
        first_reply = None
        for k, (at, from_patient) in enumerate(zip(times, senders, strict=True)):
            if from_patient:
                sender, text = patient_user, rng.choice(PATIENT_LINES)
            else:
                sender = team[(c + k) % len(team)][1]
                text = rng.choice(PROVIDER_LINES)
                first_reply = first_reply or at
            blob, key_id = crypto.encrypt_text(
                text, aad=crypto.message_aad(id_of(conversation), k + 1, sender.id))
            last_message = Message(conversation_id=id_of(conversation), sender_user_id=sender.id,
                                   seq=k + 1, client_msg_id=f"seed-{c}-{k}", body_ct=blob,
                                   key_id=key_id, created_at=at)
            session.add(last_message)
            session.flush()
            index_message(session, message_id=id_of(last_message), body=text)
        conversation.last_seq = count
        conversation.last_message_at = times[-1]
        conversation.last_message_id = last_message.id if last_message else None
        conversation.first_provider_reply_at = first_reply
        session.add(conversation)
        _seed_read_states(session, c, conversation, senders, patient_user, team, times)


def _seed_read_states(session: Any, c: Any, conversation: Any, senders: Any,
                      patient_user: Any, team: Any, times: Any) -> None:
    """Providers have not read trailing patient messages in every 4th conversation; the
    patient has not read trailing provider messages in every 3rd."""
    count = len(senders)
    trailing_patient = 0
    while trailing_patient < count and senders[count - 1 - trailing_patient]:
        trailing_patient += 1
    trailing_provider = 0
    while trailing_provider < count and not senders[count - 1 - trailing_provider]:
        trailing_provider += 1
    provider_read = count - trailing_patient if c % 4 == 0 else count
    patient_read = count - trailing_provider if c % 3 == 1 else count
    for _, user in team:
        session.add(ReadState(user_id=user.id, conversation_id=conversation.id,
                              last_read_seq=provider_read, last_delivered_seq=count,
                              read_at=times[max(0, provider_read - 1)], delivered_at=times[-1]))
    session.add(ReadState(user_id=patient_user.id, conversation_id=conversation.id,
                          last_read_seq=patient_read, last_delivered_seq=count,
                          read_at=times[max(0, patient_read - 1)], delivered_at=times[-1]))
