"""`crossfeed` as operators and scripts run it: real processes, real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import Role
from shared.editorial.actions import TranslationInput, take_action
from shared.models import Source, User
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import make_settings, settings_env
from tests.support.factories import make_article, make_source, make_user
from tests.support.processes import run
from tests.support.web import WebServer


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


def test_help_lists_the_commands(env: dict[str, str]) -> None:
    result = run(["--help"], env)
    assert result.returncode == 0
    for command in (
        "up",
        "migrate",
        "web",
        "worker",
        "beat",
        "relay",
        "articles",
        "sources",
        "users",
        "partners",
        "status",
    ):
        assert command in result.stdout


def test_users_create_prints_a_working_token_last(env: dict[str, str], settings: Settings) -> None:
    result = run(
        ["users", "create", "layla", "--role", "translator", "--password", "s3cret-pass"], env
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("cf_")
    web = WebServer(settings).start()
    try:
        assert web.get("/api/v1/me", token).json()["username"] == "layla"
    finally:
        web.stop()


def test_users_create_errors(env: dict[str, str]) -> None:
    assert run(["users", "create", "omar", "--role", "editor"], env).returncode == 0
    duplicate = run(["users", "create", "omar", "--role", "editor"], env)
    assert duplicate.returncode == 1
    assert "user 'omar' exists already" in duplicate.stderr
    bad_role = run(["users", "create", "sami", "--role", "boss"], env)
    assert bad_role.returncode == 2
    short = run(["users", "create", "sami", "--role", "editor", "--password", "short"], env)
    assert short.returncode == 2
    assert "Invalid password" in short.stderr


def test_sources_lifecycle(env: dict[str, str], database: Database) -> None:
    added = run(
        [
            "sources",
            "add",
            "--name",
            "Syria TV",
            "--url",
            "https://tv.example/rss",
            "--language",
            "ar",
            "--interval",
            "10",
        ],
        env,
    )
    assert added.returncode == 0, added.stderr
    source_id = int(added.stdout.strip().splitlines()[-1])
    with database.session() as session:
        source = session.get_one(Source, source_id)
        assert (source.interval_minutes, source.attribution) == (10, "Syria TV says")
    listing = run(["sources", "list"], env)
    assert "Syria TV" in listing.stdout
    paused = run(["sources", "pause", "Syria TV", "--reason", "outlet offline"], env)
    assert paused.returncode == 0
    shown = run(["sources", "show", str(source_id)], env)
    assert "outlet offline" in shown.stdout
    assert "paused" in shown.stdout
    refused = run(["sources", "poll", "Syria TV"], env)
    assert refused.returncode == 1
    assert "is paused; resume it first" in refused.stderr
    assert run(["sources", "resume", "Syria TV"], env).returncode == 0
    assert run(["sources", "poll", "Syria TV"], env).returncode == 0


def test_sources_add_errors(env: dict[str, str]) -> None:
    bad = run(["sources", "add", "--name", "X", "--url", "not-a-url"], env)
    assert bad.returncode == 2
    assert "Invalid url" in bad.stderr
    ok = run(["sources", "add", "--name", "X", "--url", "https://x.example/f"], env)
    assert ok.returncode == 0
    again = run(["sources", "add", "--name", "X", "--url", "https://x.example/other"], env)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    missing = run(["sources", "show", "nope"], env)
    assert missing.returncode == 1
    assert "no source 'nope'" in missing.stderr


def test_partners(env: dict[str, str]) -> None:
    added = run(
        ["partners", "add", "acme-news", "--name", "Acme News", "--formats", "rss,ninjs"], env
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("cfp_")
    listing = run(["partners", "list"], env).stdout
    assert "acme-news" in listing and "rss,ninjs" in listing
    assert token not in listing  # shown once, never again
    bad = run(["partners", "add", "Bad Slug", "--name", "x"], env)
    assert bad.returncode == 2


def test_partners_are_changed_and_their_tokens_rotated(env: dict[str, str]) -> None:
    added = run(["partners", "add", "levant", "--name", "Levant", "--places", "daraa,idlib"], env)
    assert added.returncode == 0, added.stderr
    first = added.stdout.strip().splitlines()[-1]
    changed = run(["partners", "update", "levant", "--keywords", "bread", "--formats", "rss",
                   "--inactive"], env)  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    said = " ".join(changed.stdout.split())  # as one line, however the terminal wrapped it
    # The filters not named are kept; the ones named replaced.
    assert "inactive" in said and "places: daraa,idlib" in said
    assert "keywords: bread" in said and "formats rss," in said
    cleared = " ".join(run(["partners", "update", "levant", "--places", "", "--active"], env)
                       .stdout.split())  # fmt: skip
    assert "places" not in cleared and "levant: active" in cleared
    rotated = run(["partners", "token", "levant"], env)
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip().splitlines()[-1]
    assert second.startswith("cfp_") and second != first
    assert first[:12] not in run(["partners", "list"], env).stdout
    missing = run(["partners", "token", "nobody"], env)
    assert missing.returncode == 1 and "no partner 'nobody'" in missing.stderr
    wrong = run(["partners", "update", "levant", "--language", "not a language"], env)
    assert wrong.returncode == 2 and "language" in wrong.stderr


def test_status_on_an_empty_system(env: dict[str, str]) -> None:
    human = run(["status"], env)
    assert human.returncode == 0, human.stderr
    assert "Articles: 0" in human.stdout
    data = json.loads(run(["status", "--json"], env).stdout)
    assert data["articles"]["new"] == 0
    assert data["queues"] == {"poll": 0, "enrich": 0, "review": 0, "publish": 0}
    assert data["outbox"]["pending"] == 0


def test_status_reports_an_unreachable_broker(env: dict[str, str]) -> None:
    result = run(["status"], {**env, "CROSSFEED_BROKER_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 0
    assert "broker unreachable" in result.stdout


def test_migrate_an_empty_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'new.db'}")
    env = settings_env(settings)
    unmigrated = run(["sources", "list"], env)
    assert unmigrated.returncode == 1
    assert "run `crossfeed migrate`" in unmigrated.stderr
    result = run(["migrate"], env)
    assert result.returncode == 0, result.stderr
    assert "Database at revision" in result.stdout
    assert "(was empty)" in result.stdout
    assert run(["sources", "list"], env).returncode == 0


def test_a_placeholder_secret_in_production_is_refused(env: dict[str, str]) -> None:
    result = run(
        ["status"],
        {**env, "CROSSFEED_ENVIRONMENT": "production", "CROSSFEED_SECRET_KEY": "change-me"},
    )
    assert result.returncode == 2
    assert "Configuration error" in result.stderr
    assert "placeholder" in result.stderr


def test_worker_refuses_unknown_queues(env: dict[str, str]) -> None:
    result = run(["worker", "--queues", "poll,celery"], env)
    assert result.returncode == 2
    assert "unknown queue(s) celery" in result.stderr


def test_markup_in_user_data_is_shown_as_text(env: dict[str, str]) -> None:
    added = run(
        ["sources", "add", "--name", "Al [/b] News [bold]", "--url", "https://x.example/f"], env
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1].isdigit()
    assert "Al [/b] News [bold]" in run(["sources", "list"], {**env, "COLUMNS": "200"}).stdout
    again = run(
        ["sources", "add", "--name", "Al [/b] News [bold]", "--url", "https://y.example/f"], env
    )
    assert again.returncode == 1
    assert "Al [/b] News [bold]" in again.stderr


def test_sources_update(env: dict[str, str], database: Database) -> None:
    added = run(
        ["sources", "add", "--name", "Daraa 24", "--url", "https://d24.example/rss", "--full-text"],
        env,
    )
    source_id = int(added.stdout.strip().splitlines()[-1])
    assert (
        run(
            [
                "sources",
                "update",
                "Daraa 24",
                "--interval",
                "20",
                "--no-full-text",
                "--name",
                "Daraa Now",
            ],
            env,
        ).returncode
        == 0
    )
    with database.session() as session:
        source = session.get_one(Source, source_id)
        assert (source.name, source.interval_minutes, source.full_text) == ("Daraa Now", 20, False)
        assert source.host == "d24.example"
    assert run(["sources", "update", str(source_id), "--adaptive"], env).returncode == 0
    with database.session() as session:
        assert session.get_one(Source, source_id).interval_minutes is None
    shown = run(["sources", "show", str(source_id)], {**env, "COLUMNS": "200"}).stdout
    assert "adaptive" in shown and "d24.example" in shown
    nothing = run(["sources", "update", str(source_id)], env)
    assert (nothing.returncode, "nothing to change" in nothing.stderr) == (2, True)
    both = run(["sources", "update", str(source_id), "--interval", "5", "--adaptive"], env)
    assert both.returncode == 2


def test_articles_move_through_review_from_the_command_line(
    env: dict[str, str], database: Database, settings: Settings
) -> None:

    make_user(database, "rana", Role.TRANSLATOR)
    make_user(database, "ed", Role.EDITOR)
    article = str(make_article(database, make_source(database), title="انقطاع الكهرباء"))

    def cli(*args: str) -> tuple[int, str, str]:
        result = run(["articles", *args], env)
        return result.returncode, result.stdout, result.stderr

    assert cli("claim", article, "--as", "rana")[0] == 0
    with UnitOfWork(database) as uow:  # saving is the API's (and the UI's) job
        rana = uow.session.query(User).filter_by(username="rana").one()
        take_action(uow, int(article), rana, wf.Request(wf.Action.SAVE), settings, None,
                    TranslationInput("Power cuts", body_html="<p>Rationing</p>"))  # fmt: skip
        uow.commit()
    code, _, stderr = cli("approve", article, "--as", "rana")
    assert code == 1 and "needs the editor role" in stderr
    assert cli("submit", article, "--as", "rana")[0] == 0
    code, _, stderr = cli("approve", article, "--as", "ed", "--version", "1")
    assert code == 1 and "changed since you loaded it" in stderr
    assert cli("approve", article, "--as", "ed")[0] == 0
    code, stdout, _ = cli("publish", article, "--as", "ed")
    assert code == 0 and "now published" in stdout
    code, _, stderr = cli("withdraw", article, "--as", "ed", "--note", " ")
    assert code == 1 and "needs a note" in stderr
    assert cli("withdraw", article, "--as", "ed", "--note", "wrong town")[0] == 0
    code, stdout, _ = cli("show", article)
    assert code == 0
    for action in ("claim", "save", "submit", "approve", "publish", "withdraw", "wrong town"):
        assert action in stdout
    code, stdout, _ = cli("list", "--state", "withdrawn")
    assert code == 0 and "انقطاع" in stdout
    assert cli("claim", "999999", "--as", "rana")[2].startswith("Error: no article 999999")
