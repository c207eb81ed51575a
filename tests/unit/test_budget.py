from __future__ import annotations

import threading

import pytest

from shared.feeds.budget import ByteBudget

WAIT = 10  # seconds: generous bounds on waits that should end at once


def _holder(
    budget: ByteBudget, size: int
) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A thread that holds `size` of the budget until released; (thread, inside, release)."""
    inside, release = threading.Event(), threading.Event()

    def run() -> None:
        with budget.hold(size):
            inside.set()
            release.wait(WAIT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, inside, release


def test_documents_within_the_budget_are_parsed_together() -> None:
    budget = ByteBudget(100)
    holders = [_holder(budget, 40) for _ in range(2)]
    assert all(inside.wait(WAIT) for _, inside, _ in holders)
    assert budget.in_use == 80
    for thread, _, release in holders:
        release.set()
        thread.join(WAIT)
    assert budget.in_use == 0


def test_a_document_over_what_is_left_waits_for_a_release() -> None:
    budget = ByteBudget(100)
    first, first_inside, first_release = _holder(budget, 60)
    assert first_inside.wait(WAIT)
    second, second_inside, second_release = _holder(budget, 60)
    assert not second_inside.wait(0.3)  # 60 + 60 > 100: it must still be waiting
    assert budget.in_use == 60
    first_release.set()
    assert second_inside.wait(WAIT)
    second_release.set()
    for thread in (first, second):
        thread.join(WAIT)
    assert budget.in_use == 0


def test_a_document_bigger_than_the_budget_runs_alone() -> None:
    budget = ByteBudget(100)
    small, small_inside, small_release = _holder(budget, 1)
    assert small_inside.wait(WAIT)
    huge, huge_inside, huge_release = _holder(budget, 10_000)
    assert not huge_inside.wait(0.3)
    small_release.set()
    assert huge_inside.wait(WAIT)
    assert budget.in_use == 100  # all of it, not more: it does not wait forever
    huge_release.set()
    for thread in (small, huge):
        thread.join(WAIT)


def test_the_budget_is_given_back_when_parsing_raises() -> None:
    budget = ByteBudget(100)
    with pytest.raises(RuntimeError), budget.hold(70):
        raise RuntimeError("unreadable")
    assert budget.in_use == 0
    with budget.hold(100):
        assert budget.in_use == 100


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ByteBudget(0)
