"""The date groups of the thread list (Today, Yesterday, Previous 7 days, ...), by a
thread's last activity in local time."""

from __future__ import annotations

from datetime import date, datetime

# Fixed English names: strftime("%B") follows the C locale Qt sets at start-up, and the
# rest of the window is English.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
OLDER = "Older"


def _day(timestamp: float) -> date | None:
    try:
        return datetime.fromtimestamp(timestamp).date()
    except (OverflowError, OSError, ValueError, TypeError):  # a damaged history's time
        return None


def date_group(updated_at: float, now: float) -> str:
    """The group a thread last active at `updated_at` belongs to when it is `now`:
    Today, Yesterday, Previous 7 days, Previous 30 days, then the month ("March", or
    "March 2024" from an earlier year) for the last twelve months, then the year."""
    day, today = _day(updated_at), _day(now)
    if day is None or today is None:
        return OLDER
    age = (today - day).days
    if age <= 0:  # today, or a clock that was ahead when the message was saved
        return "Today"
    if age == 1:
        return "Yesterday"
    if age <= 7:
        return "Previous 7 days"
    if age <= 30:
        return "Previous 30 days"
    months = (today.year - day.year) * 12 + today.month - day.month
    if months < 12:
        name = MONTHS[day.month - 1]
        return name if day.year == today.year else f"{name} {day.year}"
    return str(day.year)
