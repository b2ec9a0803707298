"""Plausible dates: a record is dated neither before its programme's records begin nor in
the future. A date outside is a typo (0001-01-01, 9999-12-31, a day and month swapped into
another year) that would otherwise show up as a year of its own in every report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from survey.errors import InvalidInput

# "today" is the UTC date plus a day: a team east of UTC records tomorrow's UTC date
# before midnight UTC, and must not be refused for it
TIME_ZONE_SLACK = timedelta(days=1)


def latest_plausible(today: date | None = None) -> date:
    """The latest date a record may carry: today (UTC) with a day of time-zone slack."""
    return (today or datetime.now(UTC).date()) + TIME_ZONE_SLACK


def check_record_date(day: date, *, records_from: date, what: str = "date",
                      today: date | None = None) -> date:
    """`day` if it is plausible; InvalidInput naming the field and the bounds otherwise."""
    if day < records_from:
        raise InvalidInput(f"the {what} {day.isoformat()} is before the programme's records "
                           f"begin ({records_from.isoformat()}): check the year",
                           field=what, earliest=records_from.isoformat())
    latest = latest_plausible(today)
    if day > latest:
        raise InvalidInput(f"the {what} {day.isoformat()} is in the future (the latest "
                           f"accepted is {latest.isoformat()}): check the year, or day "
                           "and month", field=what, latest=latest.isoformat())
    return day
