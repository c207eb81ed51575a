"""Crossfeed's common package: what every service stands on.

settings, db and uow (database and unit of work), models (ORM), domain (pure: states, events,
workflow), outbox (the relay), subscriptions (who consumes which event), celery_app and tasks,
http (the safe client), feeds (reading stored feed documents), logs and metrics, cli.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crossfeed")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
