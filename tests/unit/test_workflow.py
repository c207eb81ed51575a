"""The workflow rules, without I/O: every action x role x state, and the system's timers."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain import workflow as wf
from shared.domain.states import ArticleState as S
from shared.domain.states import Role

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(hours=24)
ASSIGNEE, OTHER, EDITOR, ADMIN = 1, 2, 3, 4

# The specification, written out by hand (not derived from the code under test).
#   T: any translator (and editors, admins)   A: the assignee, or an editor or admin
#   E: editors and admins                     .: no one (the state does not allow it)
COLUMNS = [S.NEW, S.TRANSLATING, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.PUBLISHED, S.DISCARDED,
           S.WITHDRAWN]  # fmt: skip
MATRIX = """
                 new  translating  in_review  approved  scheduled  published  discarded  withdrawn
claim            T    .            .          .         .          .          .          .
save             .    A            E          .         .          .          .          .
submit           .    A            .          .         .          .          .          .
release          .    A            .          .         .          .          .          .
request_changes  .    .            E          .         .          .          .          .
approve          .    .            E          .         .          .          .          .
publish          .    .            .          E         E          .          .          .
schedule         .    .            .          E         .          .          .          .
unschedule       .    .            .          .         E          .          .          .
withdraw         .    .            .          .         .          E          .          .
correct          .    .            .          .         .          E          .          .
discard          E    E            E          E         E          .          .          .
restore          .    .            .          .         .          .          E          .
assign           E    E            .          .         .          .          .          .
"""
SPEC = {
    wf.Action(line.split()[0]): dict(zip(COLUMNS, line.split()[1:], strict=True))
    for line in MATRIX.strip().splitlines()[1:]
}
ACTORS = {
    "translator (assignee)": wf.Actor(ASSIGNEE, Role.TRANSLATOR),
    "translator (other)": wf.Actor(OTHER, Role.TRANSLATOR),
    "editor": wf.Actor(EDITOR, Role.EDITOR),
    "admin": wf.Actor(ADMIN, Role.ADMIN),
}


def facts(state: S) -> wf.ArticleFacts:
    """An article in `state` with everything its actions need (a translation, an approval)."""
    return wf.ArticleFacts(
        state=state,
        assignee_id=ASSIGNEE,
        claim_expires_at=NOW + TTL,
        scheduled_for=NOW + TTL if state == S.SCHEDULED else None,
        translation_id=10,
        translation_machine=False,
        approved_translation_id=10 if state in (S.APPROVED, S.SCHEDULED, S.PUBLISHED) else None,
        ever_published=state in (S.PUBLISHED, S.WITHDRAWN),
    )


def request(action: wf.Action) -> wf.Request:
    return wf.Request(action, note="because", assignee_id=OTHER, at=NOW + dt.timedelta(hours=1))


def expected(code: str, actor_name: str) -> str:
    actor = ACTORS[actor_name]
    assert actor.role is not None
    if code == "T":
        return "ok"
    if code == "E":
        return "ok" if actor.role.includes(Role.EDITOR) else "forbidden"
    if code == "A":
        return "ok" if actor.role.includes(Role.EDITOR) or actor.id == ASSIGNEE else "forbidden"
    return "illegal"


def outcome(action: wf.Action, state: S, actor: wf.Actor) -> str:
    try:
        wf.decide(facts(state), actor, request(action), NOW, TTL)
    except wf.NotAllowed:
        return "forbidden"
    except wf.IllegalTransition:
        return "illegal"
    return "ok"


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("state", COLUMNS)
@pytest.mark.parametrize("action", list(SPEC))
def test_authorisation_matrix(action: wf.Action, state: S, actor_name: str) -> None:
    want = expected(SPEC[action][state], actor_name)
    got = outcome(action, state, ACTORS[actor_name])
    if want == "illegal":
        # A role that may never take the action hears about the role first; either way, no.
        assert got in ("illegal", "forbidden")
    else:
        assert got == want


def test_the_matrix_covers_every_action_a_person_takes() -> None:
    assert set(SPEC) == set(wf.Action) - wf.SYSTEM_ACTIONS


@pytest.mark.parametrize("actor_name", list(ACTORS))
@pytest.mark.parametrize("state", COLUMNS)
def test_allowed_actions_agree_with_the_rules(state: S, actor_name: str) -> None:
    listed = set(wf.allowed_actions(facts(state), ACTORS[actor_name]))
    assert listed == {a for a in SPEC if expected(SPEC[a][state], actor_name) == "ok"}


def test_claim_assigns_to_the_claimant_until_the_claim_lapses() -> None:
    decision = wf.decide(facts(S.NEW), ACTORS["translator (other)"], request(wf.Action.CLAIM),
                         NOW, TTL)  # fmt: skip
    assert (decision.to_state, decision.assignee_id) == (S.TRANSLATING, OTHER)
    assert decision.claim_expires_at == NOW + TTL


def test_an_editor_cannot_approve_an_unedited_machine_draft() -> None:
    draft = wf.ArticleFacts(**{**facts(S.IN_REVIEW).__dict__, "translation_machine": True})
    with pytest.raises(wf.IllegalTransition, match="machine draft"):
        wf.decide(draft, ACTORS["editor"], request(wf.Action.APPROVE), NOW, TTL)


def test_publishing_needs_the_approved_version_to_be_the_newest() -> None:
    changed = wf.ArticleFacts(**{**facts(S.APPROVED).__dict__, "translation_id": 11})
    with pytest.raises(wf.IllegalTransition, match="changed after approval"):
        wf.decide(changed, ACTORS["editor"], request(wf.Action.PUBLISH), NOW, TTL)


def test_approving_a_correction_republishes() -> None:
    correcting = wf.ArticleFacts(**{**facts(S.IN_REVIEW).__dict__, "ever_published": True})
    decision = wf.decide(correcting, ACTORS["editor"], request(wf.Action.APPROVE), NOW, TTL)
    assert decision.to_state == S.PUBLISHED
    assert decision.publishes and decision.correction


@pytest.mark.parametrize("action", [wf.Action.REQUEST_CHANGES, wf.Action.WITHDRAW,
                                    wf.Action.CORRECT])  # fmt: skip
def test_some_actions_need_a_note(action: wf.Action) -> None:
    state = {wf.Action.REQUEST_CHANGES: S.IN_REVIEW}.get(action, S.PUBLISHED)
    with pytest.raises(wf.IllegalTransition, match="note"):
        wf.decide(facts(state), ACTORS["editor"], wf.Request(action, note="  "), NOW, TTL)


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (None, "needs a time"),
        (NOW - dt.timedelta(minutes=1), "past"),
        ((NOW + dt.timedelta(days=30)).replace(tzinfo=None), "time zone"),
    ],
)
def test_schedule_needs_a_future_time_with_a_zone(at: dt.datetime | None, message: str) -> None:
    with pytest.raises(wf.IllegalTransition, match=message):
        wf.decide(facts(S.APPROVED), ACTORS["editor"], wf.Request(wf.Action.SCHEDULE, at=at),
                  NOW, TTL)  # fmt: skip


def test_timers_act_only_when_due_and_only_as_the_system() -> None:
    system = wf.Actor.system()
    lapsed = wf.ArticleFacts(**{**facts(S.TRANSLATING).__dict__, "claim_expires_at": NOW})
    decision = wf.decide(lapsed, system, wf.Request(wf.Action.EXPIRE_CLAIM), NOW, TTL)
    assert (decision.to_state, decision.assignee_id) == (S.NEW, None)
    with pytest.raises(wf.IllegalTransition, match="not expired"):
        wf.decide(facts(S.TRANSLATING), system, wf.Request(wf.Action.EXPIRE_CLAIM), NOW, TTL)
    with pytest.raises(wf.NotAllowed):
        wf.decide(lapsed, ACTORS["admin"], wf.Request(wf.Action.EXPIRE_CLAIM), NOW, TTL)
    with pytest.raises(wf.NotAllowed):
        wf.decide(facts(S.NEW), system, wf.Request(wf.Action.CLAIM), NOW, TTL)
    due = wf.ArticleFacts(**{**facts(S.SCHEDULED).__dict__, "scheduled_for": NOW})
    assert wf.decide(due, system, wf.Request(wf.Action.PUBLISH_SCHEDULED), NOW, TTL).publishes
    with pytest.raises(wf.IllegalTransition, match="not come"):
        wf.decide(facts(S.SCHEDULED), system, wf.Request(wf.Action.PUBLISH_SCHEDULED), NOW, TTL)


@pytest.mark.parametrize("state", [S.NEW, S.TRANSLATING, S.IN_REVIEW, S.APPROVED])
def test_a_live_article_under_correction_can_be_withdrawn_but_never_discarded(state: S) -> None:
    live = wf.ArticleFacts(**{**facts(state).__dict__, "ever_published": True})
    decision = wf.decide(live, ACTORS["editor"], request(wf.Action.WITHDRAW), NOW, TTL)
    assert (decision.to_state, decision.withdraws) == (S.WITHDRAWN, True)
    with pytest.raises(wf.IllegalTransition, match="withdraw it instead"):
        wf.decide(live, ACTORS["editor"], request(wf.Action.DISCARD), NOW, TTL)


def test_a_schedule_beyond_the_calendar_is_refused_not_a_crash() -> None:
    far = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with pytest.raises(wf.IllegalTransition, match="out of range"):
        wf.decide(facts(S.APPROVED), ACTORS["editor"], wf.Request(wf.Action.SCHEDULE, at=far),
                  NOW, TTL)  # fmt: skip
