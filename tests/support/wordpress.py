"""A real WordPress on 127.0.0.1, set up once per machine by the project's own
`scripts/wordpress-up.sh` (idempotent; xdist workers take turns running it)."""

from __future__ import annotations

import base64
import fcntl
import functools
import json
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path("/tmp/crossfeed-wordpress-up.lock")


@dataclass(frozen=True)
class WordPressSite:
    url: str
    user: str
    password: str

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://").rstrip("/")

    @property
    def secret(self) -> str:
        """The destination's secret, as an operator enters it."""
        return f"{self.user}:{self.password}"

    def get(self, route: str, **query: str) -> Any:
        """A REST read as the site's admin (the test's own look at the site)."""
        return self._call("GET", route, **query)

    def delete(self, route: str) -> Any:
        """Delete for good (not to the trash): a test cleaning up what it made."""
        return self._call("DELETE", route, force="true")

    def _call(self, method: str, route: str, **query: str) -> Any:
        params = "".join(f"&{k}={urllib.parse.quote(v)}" for k, v in query.items())
        request = urllib.request.Request(
            f"{self.url}/?rest_route=/wp/v2/{route}{params}",
            method=method,
            headers={"Authorization": "Basic " + base64.b64encode(self.secret.encode()).decode()},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, **json.loads(exc.read() or b"{}")}


@functools.cache
def wordpress_site() -> WordPressSite:
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [str(ROOT / "scripts" / "wordpress-up.sh")],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"scripts/wordpress-up.sh failed:\n{result.stderr[-3000:]}")
    values = dict(item.split("=", 1) for item in result.stdout.strip().splitlines()[-1].split())
    return WordPressSite(
        values["WORDPRESS_URL"], values["WORDPRESS_USER"], values["WORDPRESS_APP_PASSWORD"]
    )
