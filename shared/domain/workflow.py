"""The editorial workflow as pure rules: which action, by whom, from which state, to which.

No database, HTTP or clock here: `decide()` takes what it needs to know about the article and
the actor and returns the transition, or raises `NotAllowed` (a missing permission: 403) or
`IllegalTransition` (the article is not in a state for it: 409) with a reason a person can act
on. The review handlers apply the decision; tests drive it directly.

    new ─claim/assign─▶ translating ─submit─▶ in_review ─approve─▶ approved ─publish─▶ published
     ▲                   │  ▲                   │                    │  ▲                 │
     └──release/expire───┘  └─request_changes───┘             schedule  unschedule    withdraw
                                                                    ▼  │                  ▼
                                          (time comes) ◀──────── scheduled            withdrawn
    published ─correct─▶ in_review ─approve─▶ published (republished: a correction)
    new, translating, in_review, approved, scheduled ─discard─▶ discarded ─restore─▶ new
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from shared.domain.states import ArticleState as S
from shared.domain.states import Role


class Action(StrEnum):
    CLAIM = "claim"
    SAVE = "save"
    SUBMIT = "submit"
    RELEASE = "release"
    REQUEST_CHANGES = "request_changes"
    APPROVE = "approve"
    PUBLISH = "publish"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    WITHDRAW = "withdraw"
    CORRECT = "correct"
    DISCARD = "discard"
    RESTORE = "restore"
    ASSIGN = "assign"
    # Taken by the system's timers, never by a person.
    EXPIRE_CLAIM = "expire_claim"
    PUBLISH_SCHEDULED = "publish_scheduled"


SYSTEM_ACTIONS = frozenset({Action.EXPIRE_CLAIM, Action.PUBLISH_SCHEDULED})


class WorkflowError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAllowed(WorkflowError):
    """The actor's role or relation to the article does not permit the action."""


class IllegalTransition(WorkflowError):
    """The article is not in a state where the action makes sense."""


@dataclass(frozen=True)
class Rule:
    sources: frozenset[S]
    role: Role
    # Only the translator the article is assigned to (editors may act for anyone).
    assignee_only: bool = False
    note_required: bool = False


_WORKING = frozenset({S.NEW, S.TRANSLATING, S.IN_REVIEW, S.APPROVED, S.SCHEDULED})

RULES: dict[Action, Rule] = {
    Action.CLAIM: Rule(frozenset({S.NEW}), Role.TRANSLATOR),
    Action.SAVE: Rule(frozenset({S.TRANSLATING, S.IN_REVIEW}), Role.TRANSLATOR, assignee_only=True),
    Action.SUBMIT: Rule(frozenset({S.TRANSLATING}), Role.TRANSLATOR, assignee_only=True),
    Action.RELEASE: Rule(frozenset({S.TRANSLATING}), Role.TRANSLATOR, assignee_only=True),
    Action.REQUEST_CHANGES: Rule(frozenset({S.IN_REVIEW}), Role.EDITOR, note_required=True),
    Action.APPROVE: Rule(frozenset({S.IN_REVIEW}), Role.EDITOR),
    Action.PUBLISH: Rule(frozenset({S.APPROVED, S.SCHEDULED}), Role.EDITOR),
    Action.SCHEDULE: Rule(frozenset({S.APPROVED}), Role.EDITOR),
    Action.UNSCHEDULE: Rule(frozenset({S.SCHEDULED}), Role.EDITOR),
    # Withdraw: a published article, or a live one whose correction is under way.
    Action.WITHDRAW: Rule(_WORKING | {S.PUBLISHED}, Role.EDITOR, note_required=True),
    Action.CORRECT: Rule(frozenset({S.PUBLISHED}), Role.EDITOR, note_required=True),
    Action.DISCARD: Rule(_WORKING, Role.EDITOR),
    Action.RESTORE: Rule(frozenset({S.DISCARDED}), Role.EDITOR),
    Action.ASSIGN: Rule(frozenset({S.NEW, S.TRANSLATING}), Role.EDITOR),
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id and role), or the system's timers (id None, role None)."""

    id: int | None
    role: Role | None

    @classmethod
    def system(cls) -> Actor:
        return cls(None, None)


@dataclass(frozen=True)
class ArticleFacts:
    """What the rules need to know about an article."""

    state: S
    assignee_id: int | None
    claim_expires_at: dt.datetime | None
    scheduled_for: dt.datetime | None
    # The newest translation version: its id, and whether a machine made it.
    translation_id: int | None
    translation_machine: bool
    approved_translation_id: int | None
    ever_published: bool  # published before: approving a correction republishes


@dataclass(frozen=True)
class Request:
    action: Action
    note: str | None = None
    assignee_id: int | None = None  # assign: the (active) user it goes to
    at: dt.datetime | None = None  # schedule


@dataclass(frozen=True)
class Decision:
    action: Action
    from_state: S
    to_state: S
    assignee_id: int | None
    claim_expires_at: dt.datetime | None
    scheduled_for: dt.datetime | None
    approved_translation_id: int | None
    publishes: bool = False  # the article goes out (first time or republished)
    correction: bool = False  # republishing a corrected article
    withdraws: bool = False  # the article is taken down everywhere


def decide(
    facts: ArticleFacts, actor: Actor, request: Request, now: dt.datetime, claim_ttl: dt.timedelta
) -> Decision:
    """The transition `request` makes, or NotAllowed / IllegalTransition with the reason."""
    action = request.action
    if action in SYSTEM_ACTIONS:
        return _system(facts, actor, action, now)
    check(facts, actor, action)
    if RULES[action].note_required and not (request.note or "").strip():
        raise IllegalTransition(f"{action} needs a note saying why")
    return _TRANSITIONS[action](_keep(facts, action), facts, actor, request, now, claim_ttl)


def _keep(facts: ArticleFacts, action: Action) -> Decision:
    """The decision that changes nothing: each transition states only what it changes."""
    return Decision(
        action=action,
        from_state=facts.state,
        to_state=facts.state,
        assignee_id=facts.assignee_id,
        claim_expires_at=facts.claim_expires_at,
        scheduled_for=facts.scheduled_for,
        approved_translation_id=facts.approved_translation_id,
    )


def check(facts: ArticleFacts, actor: Actor, action: Action) -> None:
    """Whether `actor` may take `action` on the article in its state (parameters aside)."""
    rule = RULES[action]
    if actor.role is None or actor.id is None:
        raise NotAllowed(f"{action} is taken by a person, not the system")
    if not actor.role.includes(rule.role):
        raise NotAllowed(f"{action} needs the {rule.role.value} role; you are {actor.role.value}")
    if facts.state not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        raise IllegalTransition(
            f"cannot {action} an article that is {facts.state.value} (only when {allowed})"
        )
    is_editor = actor.role.includes(Role.EDITOR)
    if rule.assignee_only and not is_editor and facts.assignee_id != actor.id:
        raise NotAllowed(f"only the translator the article is assigned to may {action} it")
    if action == Action.SAVE and facts.state == S.IN_REVIEW and not is_editor:
        raise NotAllowed("the article is in review: only an editor may change it now")
    # A published article stays live at its destinations while a correction goes through the
    # workflow: it can be withdrawn from any state then, and never silently discarded.
    if action == Action.WITHDRAW and not facts.ever_published:
        raise IllegalTransition(
            f"cannot withdraw an article that is {facts.state.value}: it was never published"
        )
    if action == Action.DISCARD and facts.ever_published:
        raise IllegalTransition("the article is live at its destinations: withdraw it instead")


def allowed_actions(facts: ArticleFacts, actor: Actor) -> list[Action]:
    """The actions `actor` could take now (the UI's buttons); parameters aside."""
    found = []
    for action in RULES:
        try:
            check(facts, actor, action)
        except WorkflowError:
            continue
        found.append(action)
    return found


# One function per action: (unchanged decision, facts, actor, request, now, claim ttl) -> decision.
# Each is reached only after check() passed.
def _claim(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
           ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.TRANSLATING, assignee_id=a.id, claim_expires_at=now + ttl)


def _save(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
          ttl: dt.timedelta) -> Decision:  # fmt: skip
    # Saving keeps a translator's claim alive.
    return _with(d, claim_expires_at=now + ttl) if f.state == S.TRANSLATING else d


def _submit(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
            ttl: dt.timedelta) -> Decision:  # fmt: skip
    if f.translation_id is None:
        raise IllegalTransition("nothing to submit: save a translation first")
    if f.translation_machine:
        raise IllegalTransition(
            "the newest version is a machine draft: edit and save it before submitting"
        )
    return _with(d, to_state=S.IN_REVIEW, claim_expires_at=None)


def _release(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.NEW, assignee_id=None, claim_expires_at=None)


def _request_changes(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
                     ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.TRANSLATING, claim_expires_at=now + ttl)


def _approve(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    if f.translation_id is None:
        raise IllegalTransition("nothing to approve: the article has no translation")
    if f.translation_machine:
        raise IllegalTransition("the newest version is an unedited machine draft")
    if f.ever_published:
        # A correction: approval republishes it to every destination that had it.
        return _with(d, to_state=S.PUBLISHED, approved_translation_id=f.translation_id,
                     publishes=True, correction=True)  # fmt: skip
    return _with(d, to_state=S.APPROVED, approved_translation_id=f.translation_id)


def _publish(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    _check_approval(f)
    return _with(d, to_state=S.PUBLISHED, scheduled_for=None, publishes=True)


def _schedule(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
              ttl: dt.timedelta) -> Decision:  # fmt: skip
    _check_approval(f)
    if r.at is None:
        raise IllegalTransition("schedule needs a time (`at`)")
    if r.at.tzinfo is None:
        raise IllegalTransition("the scheduled time needs a time zone (RFC 3339)")
    try:
        at = r.at.astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise IllegalTransition("the scheduled time is out of range") from exc
    if at <= now:
        raise IllegalTransition("the scheduled time is in the past: publish now instead")
    return _with(d, to_state=S.SCHEDULED, scheduled_for=at)


def _unschedule(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
                ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.APPROVED, scheduled_for=None)


def _withdraw(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
              ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.WITHDRAWN, withdraws=True, assignee_id=None, claim_expires_at=None,
                 scheduled_for=None)  # fmt: skip


def _correct(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.IN_REVIEW, approved_translation_id=None)


def _discard(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.DISCARDED, assignee_id=None, claim_expires_at=None,
                 scheduled_for=None, approved_translation_id=None)  # fmt: skip


def _restore(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
             ttl: dt.timedelta) -> Decision:  # fmt: skip
    return _with(d, to_state=S.NEW)


def _assign(d: Decision, f: ArticleFacts, a: Actor, r: Request, now: dt.datetime,
            ttl: dt.timedelta) -> Decision:  # fmt: skip
    if r.assignee_id is None:
        raise IllegalTransition("assign needs the user to assign (`assignee`)")
    return _with(d, to_state=S.TRANSLATING, assignee_id=r.assignee_id,
                 claim_expires_at=now + ttl)  # fmt: skip


_TRANSITIONS = {
    Action.CLAIM: _claim,
    Action.SAVE: _save,
    Action.SUBMIT: _submit,
    Action.RELEASE: _release,
    Action.REQUEST_CHANGES: _request_changes,
    Action.APPROVE: _approve,
    Action.PUBLISH: _publish,
    Action.SCHEDULE: _schedule,
    Action.UNSCHEDULE: _unschedule,
    Action.WITHDRAW: _withdraw,
    Action.CORRECT: _correct,
    Action.DISCARD: _discard,
    Action.RESTORE: _restore,
    Action.ASSIGN: _assign,
}


def _system(facts: ArticleFacts, actor: Actor, action: Action, now: dt.datetime) -> Decision:
    if actor.role is not None:
        raise NotAllowed(f"{action} is taken by the system's timers only")
    keep, nobody = _keep(facts, action), Request(action)
    if action == Action.EXPIRE_CLAIM:
        if facts.state != S.TRANSLATING or facts.claim_expires_at is None:
            raise IllegalTransition("no claim to expire")
        if facts.claim_expires_at > now:
            raise IllegalTransition("the claim has not expired")
        return _release(keep, facts, actor, nobody, now, dt.timedelta(0))  # as if released
    if facts.state != S.SCHEDULED or facts.scheduled_for is None:
        raise IllegalTransition("the article is not scheduled")
    if facts.scheduled_for > now:
        raise IllegalTransition("its time has not come")
    return _publish(keep, facts, actor, nobody, now, dt.timedelta(0))  # as if published now


def _check_approval(facts: ArticleFacts) -> None:
    """Publishing needs an editor's approval of exactly the newest translation version."""
    if facts.approved_translation_id is None:
        raise IllegalTransition("the article has not been approved")
    if facts.approved_translation_id != facts.translation_id:
        raise IllegalTransition("the translation changed after approval: it needs review again")


def _with(decision: Decision, **changes: object) -> Decision:
    return replace(decision, **changes)  # type: ignore[arg-type]
