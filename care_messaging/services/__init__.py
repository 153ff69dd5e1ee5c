"""Domain logic in plain Python. Nothing here imports Reflex."""

# The durable consumers of domain events (a job per stored message, in its transaction) are
# registered whoever calls the services: a page, the CLI, a job or a test.
from care_messaging.services import notifications as _notifications  # noqa: F401
from care_messaging.services import triage as _triage  # noqa: F401
