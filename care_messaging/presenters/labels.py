"""Display text for the enums, written once: every page, select and row reads these tables.

Keyed by the enums themselves; a ``StrEnum`` member hashes and compares as its value, so a
plain string read from a row (``row.status``) finds its label too.
"""

from __future__ import annotations

from care_messaging.models import Category, ConversationStatus, Medium, Priority

STATUS_LABELS: dict[str, str] = {
    ConversationStatus.ACTIVE: "Active",
    ConversationStatus.NEEDS_ATTENTION: "Needs attention",
    ConversationStatus.COMPLETED: "Completed",
}
PRIORITY_LABELS: dict[str, str] = {
    Priority.ROUTINE: "Routine",
    Priority.HIGH: "High",
    Priority.URGENT: "Urgent",
}
CATEGORY_LABELS: dict[str, str] = {
    Category.TEST_RESULTS: "Test results",
    Category.APPOINTMENT: "Appointment",
    Category.MEDICATION: "Medication",
    Category.CARE_INSTRUCTIONS: "Care instructions",
    Category.HEALTH_EDUCATION: "Health education",
    Category.CHECK_IN: "Check-in",
    Category.ADMINISTRATIVE: "Administrative",
}
MEDIUM_LABELS: dict[str, str] = {
    Medium.SECURE_MESSAGE: "Secure message",
    Medium.PORTAL: "Portal",
    Medium.PHONE: "Phone",
    Medium.EMAIL: "Email",
}
# The message types of the patient guide, in its words (the portal's New Message dialog).
PATIENT_CATEGORY_LABELS: dict[str, str] = {
    Category.TEST_RESULTS: "Test results (lab results, imaging, other tests)",
    Category.APPOINTMENT: "Appointments (visits, scheduling changes)",
    Category.MEDICATION: "Medication (prescriptions, instructions, side effects)",
    Category.CARE_INSTRUCTIONS: "Care instructions (treatment plan, home care, follow-up)",
    Category.HEALTH_EDUCATION: "Health education (my condition, wellness)",
    Category.CHECK_IN: "Check-in (how I'm feeling, progress)",
    Category.ADMINISTRATIVE: "Administrative (insurance, billing, scheduling)",
}
# The portal's badges (Radix color names).
STATUS_COLORS: dict[str, str] = {
    ConversationStatus.ACTIVE: "green",
    ConversationStatus.NEEDS_ATTENTION: "amber",
    ConversationStatus.COMPLETED: "gray",
}
PRIORITY_COLORS: dict[str, str] = {
    Priority.ROUTINE: "gray",
    Priority.URGENT: "orange",
    Priority.HIGH: "red",
}


def label(table: dict[str, str], value: str) -> str:
    """The value's display text (the value itself when it has none: an unknown code still
    shows rather than disappearing)."""
    return table.get(value, value)
