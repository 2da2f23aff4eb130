"""The thread list's date groups, at fixed local times."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.core.thread_groups import OLDER, date_group


def at(*parts: int) -> float:
    return datetime(*parts).timestamp()


NOW = at(2026, 3, 15, 9, 30)


@pytest.mark.parametrize(("when", "group"), [
    (at(2026, 3, 15, 0, 0, 1), "Today"),
    (at(2026, 3, 16, 12, 0), "Today"),  # a clock that was ahead
    (at(2026, 3, 14, 23, 59), "Yesterday"),  # minutes ago, but another day
    (at(2026, 3, 14, 0, 0), "Yesterday"),
    (at(2026, 3, 13, 23, 0), "Previous 7 days"),
    (at(2026, 3, 8, 12, 0), "Previous 7 days"),
    (at(2026, 3, 7, 12, 0), "Previous 30 days"),
    (at(2026, 2, 13, 12, 0), "Previous 30 days"),
    (at(2026, 2, 12, 12, 0), "February"),
    (at(2026, 1, 2, 12, 0), "January"),
    (at(2025, 12, 31, 12, 0), "December 2025"),
    (at(2025, 4, 1, 12, 0), "April 2025"),
    (at(2025, 3, 31, 12, 0), "2025"),
    (at(2019, 6, 1, 12, 0), "2019"),
])
def test_groups_follow_calendar_days_not_hours(when, group):
    assert date_group(when, NOW) == group


@pytest.mark.parametrize("broken", [float("nan"), 1e20, -1e20, float("inf")])
def test_a_damaged_time_is_older_not_an_error(broken):
    assert date_group(broken, NOW) == OLDER
