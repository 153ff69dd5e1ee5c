"""Presenters: service rows -> the small dicts of display strings the pages keep in state.

Plain Python (no Reflex import): the handlers call them and they are unit-tested on their
own. ``provider`` builds the dashboard's rows (and the message row both threads share),
``patient`` the portal's, ``message_status`` a sender's delivery status text and ``instant``
the ISO-8601 UTC instant the pages carry.
"""
