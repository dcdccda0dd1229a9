"""The optimistic-lock helper: redo on conflict with growing jittered pauses, then give up."""

from __future__ import annotations

import pytest

from jobgate.store.optimistic import CONFLICT, Conflict, retry_on_conflict


class GaveUp(Exception):
    pass


def test_the_first_outcome_that_is_not_a_conflict_is_returned() -> None:
    outcomes: list[str | Conflict | None] = [CONFLICT, CONFLICT, None, "late"]
    pauses: list[float] = []
    result = retry_on_conflict(lambda: outcomes.pop(0), gave_up=lambda _: GaveUp(), sleep=pauses.append)
    assert result is None  # "nothing to do" is an outcome too, not a conflict
    assert len(pauses) == 2
    assert all(0 <= pause <= 0.01 * 2 ** (n + 1) for n, pause in enumerate(pauses))


def test_after_max_attempts_conflicts_it_raises_what_gave_up_makes() -> None:
    calls: list[int] = []

    def attempt() -> int | Conflict:
        calls.append(1)
        return CONFLICT

    with pytest.raises(GaveUp, match="3"):
        retry_on_conflict(attempt, gave_up=lambda attempts: GaveUp(str(attempts)), max_attempts=3, sleep=lambda _: None)
    assert len(calls) == 3
