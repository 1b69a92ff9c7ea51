"""The local web dashboard over an event workspace (``matchmaker serve``).

The top layer of the package: it may import any other layer, and only
``matchmaker.cli`` imports it. ``workspace`` is its storage: one SQLite file per
workspace folder holding events, scenario versions, schedule versions and jobs.
"""
