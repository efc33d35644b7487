"""The cockpit: a Dash wall screen over the ClickHouse store.

`cockpit.app.create_app(settings, store)` builds the app; `edu-cockpit` (cockpit.cli) serves it.
Numbers on screen come only from the named queries in `cockpit.queries`.
"""
