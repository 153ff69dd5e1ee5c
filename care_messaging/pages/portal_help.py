"""Help for patients: what the messages mean and how to use secure messaging well.

No state of its own (Reflex would build it for every tab): the page's load is the portal
state's ``load_help``, the patient-only guard."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.state.auth import AuthState

MESSAGE_TYPES = [
    ("Test results", "Lab results, imaging reports, or other test outcomes"),
    ("Appointment reminders", "Upcoming visits or scheduling changes"),
    ("Medication information", "Prescription updates, instructions, or side effects"),
    ("Care instructions", "Treatment plans, home care guidance, or follow-up steps"),
    ("Health education", "Information about your condition or wellness tips"),
    ("Check-ins", "How you're feeling or progress updates"),
    ("Administrative matters", "Insurance, billing, or scheduling questions"),
]
TIPS = [
    ("Check messages regularly", "Look for new messages from your care team daily."),
    ("Respond promptly", "Reply to your providers' questions in a timely manner."),
    ("Be clear and specific", "Describe your symptoms, concerns, or questions clearly."),
    ("Ask questions", "Don't hesitate to ask if you don't understand something."),
    ("Share relevant information", "Include photos or documents when they help explain your "
     "situation."),
    ("Respect urgent vs. routine", "Use emergency services for true emergencies, not secure "
     "messaging."),
    ("Keep it health-related", "Use this system for medical questions and care coordination."),
]
STATUSES = [
    ("Sending…", "Your message is on its way."),
    ("Sent", "Your care team's system has it."),
    ("Delivered", "It has reached your care team's screen."),
    ("Read", "Someone on your care team has opened it, with the time."),
]


def _definition_list(items: list[tuple[str, str]]) -> rx.Component:
    return rx.el.dl(
        *[rx.fragment(rx.el.dt(rx.text(term, weight="bold")),
                      rx.el.dd(rx.text(text, color_scheme="gray"), margin_bottom="0.6em"))
          for term, text in items],
    )


def help_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.heading("Help: messaging your care team", size="6", as_="h1"),
            rx.callout("For emergencies call 911 or your local emergency number.",
                       icon="siren", color_scheme="red", width="100%"),
            rx.text("Only you and the providers on your care team can see these messages. "
                    "Every access is recorded."),
            rx.heading("Understanding message types", size="4", as_="h2"),
            _definition_list(MESSAGE_TYPES),
            rx.heading("Message status", size="4", as_="h2"),
            _definition_list(STATUSES),
            rx.heading("Tips for effective communication", size="4", as_="h2"),
            _definition_list(TIPS),
            rx.link("Back to messages", href="/portal"),
            max_width="760px", margin_x="auto", padding="1em", spacing="3",
        ),
        user_name=AuthState.user_name,
        nav=[nav_link("Messages", "/portal"), nav_link("Help", "/portal/help")],
    )
