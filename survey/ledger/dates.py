"""Dates of ledger input checked against the programme they belong to (the rule itself is
survey.domain.dates; this module reads where the programme's records begin)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import psycopg

from survey.domain.dates import check_record_date

RECORDS_FROM = "SELECT records_from FROM programme WHERE id = %(programme_id)s"

RECORDS_FROM_OF_HAZARD = """
SELECT p.records_from FROM hazard_area h JOIN programme p ON p.id = h.programme_id
WHERE h.id = %(hazard_area_id)s
"""


def check_programme_date(conn: psycopg.Connection, *, programme_id: UUID, day: date | None,
                         what: str = "date") -> None:
    """InvalidInput if `day` is before the programme's records begin or in the future.

    No date (the caller will use today) and an unknown programme pass: the caller's own
    lookup reports what is missing.
    """
    if day is None:
        return
    row = conn.execute(RECORDS_FROM, {"programme_id": programme_id}).fetchone()
    if row is not None:
        check_record_date(day, records_from=row[0], what=what)


def check_hazard_date(conn: psycopg.Connection, *, hazard_area_id: UUID, day: date | None,
                      what: str = "date") -> None:
    """Like check_programme_date, for the programme of a hazard area."""
    if day is None:
        return
    row = conn.execute(RECORDS_FROM_OF_HAZARD, {"hazard_area_id": hazard_area_id}).fetchone()
    if row is not None:
        check_record_date(day, records_from=row[0], what=what)
