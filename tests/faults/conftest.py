"""Fault injection against the real processes (issue 8).

Every test here starts the services as separate processes, injects a real fault (SIGKILL, a
restarted or flushed server, an endpoint that fails, hangs or lies) and then checks the
promises of docs/guarantees.md. Each is bounded in time and stops what it started.
"""

from __future__ import annotations

import pytest

from tests.support.wordpress import WordPressSite, wordpress_site


@pytest.fixture
def site() -> WordPressSite:
    """The newsroom's WordPress (one per machine, shared by the whole run)."""
    return wordpress_site()
