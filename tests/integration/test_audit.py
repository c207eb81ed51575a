"""`make audit` (scripts/audit.py) against a stand-in PyPI on 127.0.0.1 speaking PyPI's JSON
API as the development machines' mirror does: per-project JSON, per-release URLs refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.httpserver import LocalServer, Reply

ROOT = Path(__file__).resolve().parents[2]


def project(name: str, newest: str, advisories: list[dict[str, object]] | None = None) -> Reply:
    document = {"info": {"name": name, "version": newest}, "releases": {newest: []},
                "urls": [], "vulnerabilities": advisories or []}  # fmt: skip
    return Reply(200, json.dumps(document).encode(), {"Content-Type": "application/json"})


def advisory(ident: str, fixed_in: list[str], withdrawn: str | None = None) -> dict[str, object]:
    return {"id": ident, "aliases": [f"CVE-{ident}"], "fixed_in": fixed_in, "link": "",
            "source": "osv", "summary": "a flaw", "withdrawn": withdrawn}  # fmt: skip


def audit(server: LocalServer, tmp_path: Path, *pins: str) -> subprocess.CompletedProcess[str]:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# pinned\n" + "\n".join(pins) + "\n", encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), str(constraints),
         "--index", server.url("")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_clean_pins_pass_and_say_how_they_were_audited(server: LocalServer, tmp_path: Path) -> None:
    server.route("/pypi/alpha/json", project("alpha", "2.0"))
    server.route("/pypi/beta-lib/json", project("beta-lib", "1.1", [advisory("OLD-1", ["1.0"])]))
    done = audit(server, tmp_path, "alpha==2.0", "Beta_Lib==1.0.5")
    assert done.returncode == 0, done.stderr
    assert "1 are the newest release" in done.stdout
    assert "beta-lib==1.0.5 (newest 1.1)" in done.stdout
    assert len(server.requests) == 2  # names canonicalised: beta-lib, not Beta_Lib


def test_a_known_vulnerability_fails_the_audit(server: LocalServer, tmp_path: Path) -> None:
    server.route("/pypi/alpha/json", project("alpha", "2.0", [advisory("PYSEC-1", ["2.1"])]))
    server.route("/pypi/gamma/json", project("gamma", "3.0", [advisory("GHSA-2", [])]))
    server.route("/pypi/delta/json", project("delta", "1.0", [advisory("W-3", [], "2026-01-01")]))
    done = audit(server, tmp_path, "alpha==2.0", "gamma==2.5", "delta==1.0")
    assert done.returncode == 1
    assert "VULNERABLE alpha==2.0: PYSEC-1" in done.stderr and "fixed in: 2.1" in done.stderr
    # An older pin and an advisory of the newest release with no fix: the old one has it too.
    assert "VULNERABLE gamma==2.5: GHSA-2" in done.stderr
    assert "W-3" not in done.stderr  # withdrawn


def test_unreadable_vulnerability_data_fails_loudly(server: LocalServer, tmp_path: Path) -> None:
    server.route("/pypi/alpha/json", project("alpha", "2.0"))
    server.route("/pypi/broken/json", Reply(503, b"upstream unavailable"))
    done = audit(server, tmp_path, "alpha==2.0", "broken==1.0")
    assert done.returncode == 2
    assert "FAILED, the vulnerability data could not be read" in done.stderr
    assert "HTTP 503" in done.stderr

    done = audit(server, tmp_path, "alpha==2.0", "unknown==1.0")  # 404: not on the index
    assert done.returncode == 2 and "unknown is not on" in done.stderr

    gone = LocalServer().start()
    gone.stop()  # nothing answers at all
    done = audit(gone, tmp_path, "alpha==2.0")
    assert done.returncode == 2 and "Connection refused" in done.stderr
