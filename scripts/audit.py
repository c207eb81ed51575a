"""Audit the pinned dependencies (constraints.txt) for known vulnerabilities; `make audit`.

Where PyPI answers its per-release JSON API (`/pypi/NAME/VERSION/json`, what pip-audit's `pypi`
vulnerability service reads), this runs pip-audit itself, strict, so a dependency it cannot
audit fails the run instead of being skipped.

Where only the per-project JSON answers (`/pypi/NAME/json`, as on the development machines,
whose mirror refuses per-release URLs with a 404), it reads that: its `vulnerabilities` are the
OSV advisories of the project's newest release. A pin that is the newest release is audited
exactly; an older pin fails when an advisory of the newest release has no fix at or below it
(an unfixed flaw is in the old release too), and is otherwise listed as audited against the
newest release only, since advisories fixed before the newest release are not published there.

Exit codes: 0 nothing known; 1 a known vulnerability (the report names it); 2 the vulnerability
data could not be read (no network, an error answer): never a silent pass.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PYPI = "https://pypi.org"
TIMEOUT = 30

# Advisories judged not to apply, each with the reason. Empty today: nothing is known.
IGNORED: dict[str, str] = {}


class DataUnavailable(Exception):
    """The vulnerability data could not be read."""


@dataclass
class Finding:
    name: str
    version: str
    advisory: str
    aliases: list[str]
    fixed_in: list[str]
    summary: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)
    newest_only: list[str] = field(default_factory=list)


def pins(path: Path) -> list[tuple[str, str]]:
    """`name==version` lines of a constraints file, as (canonical name, version)."""
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            found.append((re.sub(r"[-_.]+", "-", name.strip()).lower(), version.strip()))
    return found


def fetch_json(url: str) -> dict[str, object] | None:
    """The JSON at `url`; None for a 404; DataUnavailable for anything else that is not JSON."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - https only
            return dict(json.load(answer))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise DataUnavailable(f"{url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataUnavailable(f"{url}: {exc}") from exc


def advisories(document: dict[str, object]) -> list[dict[str, object]]:
    listed = document.get("vulnerabilities") or []
    if not isinstance(listed, list):
        raise DataUnavailable("a `vulnerabilities` field that is not a list")
    return [a for a in listed if isinstance(a, dict) and not a.get("withdrawn")]


def strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def finding(name: str, version: str, advisory: dict[str, object]) -> Finding:
    summary = str(advisory.get("summary") or advisory.get("details") or "")
    return Finding(name, version, str(advisory.get("id")), strings(advisory.get("aliases")),
                   strings(advisory.get("fixed_in")), " ".join(summary.split())[:160])  # fmt: skip


def fixed_at_or_below(fixed_in: list[str], version: str) -> bool:
    try:
        pinned = Version(version)
        return any(Version(f) <= pinned for f in fixed_in)
    except InvalidVersion:
        return False


def audit_from_projects(base: str, pinned: list[tuple[str, str]]) -> Report:
    report = Report()
    with ThreadPoolExecutor(max_workers=8) as pool:
        documents = list(pool.map(lambda pin: fetch_json(f"{base}/pypi/{pin[0]}/json"), pinned))
    for (name, version), document in zip(pinned, documents, strict=True):
        if document is None:
            raise DataUnavailable(f"{name} is not on {base}: cannot audit it")
        info = document.get("info")
        newest = str(info.get("version")) if isinstance(info, dict) else ""
        if not newest:
            raise DataUnavailable(f"{base}/pypi/{name}/json names no release")
        for advisory in advisories(document):
            fixed_in = strings(advisory.get("fixed_in"))
            if newest == version or not fixed_at_or_below(fixed_in, version):
                report.findings.append(finding(name, version, advisory))
        (report.exact if newest == version else report.newest_only).append(
            f"{name}=={version}" + ("" if newest == version else f" (newest {newest})")
        )
    return report


def per_release_api(base: str, name: str, version: str) -> bool:
    """Whether `base` answers per-release JSON (pip-audit's source), probed with one pin."""
    return fetch_json(f"{base}/pypi/{name}/{version}/json") is not None


def run_pip_audit(constraints: Path) -> int:
    """pip-audit on the pins, strict: a dependency it cannot audit fails the run."""
    binary = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if binary is None:
        print("audit: pip-audit is not installed (make .venv/.test)", file=sys.stderr)
        return 2
    command = [binary, "--strict", "--progress-spinner", "off", "--disable-pip", "--no-deps",
               "-r", str(constraints)]  # fmt: skip
    for advisory in IGNORED:
        command += ["--ignore-vuln", advisory]
    return subprocess.run(command, check=False).returncode  # noqa: S603 - our own arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("constraints", nargs="?", type=Path, default=ROOT / "constraints.txt")
    parser.add_argument("--index", default=PYPI, help="the PyPI JSON API's base URL")
    args = parser.parse_args(argv)
    pinned = pins(args.constraints)
    if not pinned:
        print(f"audit: no pins in {args.constraints}", file=sys.stderr)
        return 2
    base = args.index.rstrip("/")
    try:
        if base == PYPI and per_release_api(base, *pinned[0]):
            return run_pip_audit(args.constraints)
        report = audit_from_projects(base, pinned)
    except DataUnavailable as exc:
        print(f"audit: FAILED, the vulnerability data could not be read: {exc}", file=sys.stderr)
        return 2
    found = [f for f in report.findings if f.advisory not in IGNORED]
    print(f"audit: {len(pinned)} pins of {args.constraints.name} read from {base}/pypi/NAME/json "
          f"(per-release JSON refused): {len(report.exact)} are the newest release, audited "
          f"exactly; {len(report.newest_only)} older, audited against the newest release's "
          "advisories only")  # fmt: skip
    if report.newest_only:
        print("audit: older pins: " + ", ".join(report.newest_only))
    for f in report.findings:
        if f.advisory in IGNORED:
            print(f"audit: ignored {f.advisory} in {f.name}=={f.version}: {IGNORED[f.advisory]}")
    for f in found:
        fixed = ", ".join(f.fixed_in) or "no fixed release"
        print(f"audit: VULNERABLE {f.name}=={f.version}: {f.advisory} ({', '.join(f.aliases)}); "
              f"fixed in: {fixed}; {f.summary}", file=sys.stderr)  # fmt: skip
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
