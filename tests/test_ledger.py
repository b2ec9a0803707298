"""The land release ledger: a worked example, lifecycle, boundary changes, invariant."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from survey.access import Scope
from survey.domain.geometry import geodesic_area_m2
from survey.domain.models import (
    EvidencePoint,
    HazardArea,
    Organisation,
    Programme,
    Release,
)
from survey.errors import (
    IllegalTransition,
    InvalidGeometry,
    InvalidInput,
    LedgerConflict,
    NotFound,
)
from survey.ledger import boundary, check, history, lifecycle, record_release
from survey.ledger.lifecycle import Target
from survey.store import repo
from tests.conftest import make_hazard, make_report

# a 4 x 2 hundredths-of-a-minute field near Izium: about 292 m x 222 m
W, S, E, N = 37.300, 49.200, 37.304, 49.202


def strip(west: float, east: float, south: float = S, north: float = N) -> Polygon:
    return box(west, south, east, north)


def book(conn: psycopg.Connection, hazard: HazardArea, report_id: Any, geom: Any,
         product: str = "cleared", method: str = "MANUAL", **fields: Any) -> Any:
    values: dict[str, Any] = {"technical_asset": product != "cancelled",
                              "release_date": date(2025, 4, 1)} | fields
    return record_release(conn, release=Release(
        programme_id=hazard.programme_id, activity_report_id=report_id,
        hazard_area_id=hazard.id, product=product, method=method,
        geom=MultiPolygon([geom]) if isinstance(geom, Polygon) else geom, **values),
        actor="test")


def books_balance(conn: psycopg.Connection, hazard_id: Any) -> float:
    """area - released - remaining for one hazard area (the kept total and its pieces)."""
    area, released, kept, pieces = conn.execute(
        "SELECT h.area_m2, (SELECT coalesce(sum(area_m2), 0) FROM release "
        "WHERE hazard_area_id = h.id), h.remaining_area_m2, (SELECT coalesce(sum(area_m2), 0) "
        "FROM remaining_piece WHERE hazard_area_id = h.id) FROM hazard_area h WHERE h.id = %s",
        (hazard_id,)).fetchone()
    assert abs(kept - pieces) <= 0.01
    return float(area - released - pieces)


def test_worked_example(conn: psycopg.Connection, programme: Programme,
                        organisation: Organisation) -> None:
    field = strip(W, E)
    hazard = make_hazard(conn, programme, field, classification="SHA", evidence="indirect")
    total = geodesic_area_m2(field)
    assert hazard.area_m2 == pytest.approx(total, abs=0.01)
    assert hazard.status == "open"
    report = make_report(conn, hazard, organisation)

    # 1. NTS cancels the western quarter
    cancelled = book(conn, hazard, report.id, strip(W, 37.301), "cancelled", "NTS")
    # the strip's southern edge runs along the parallel, the field's along the geodesic,
    # which bows a fraction of a millimetre north: that sliver is clipped and reported
    submitted = geodesic_area_m2(strip(W, 37.301))
    assert cancelled.release.area_m2 + cancelled.clipped_m2 == pytest.approx(submitted,
                                                                             abs=0.01)
    assert 0 < cancelled.clipped_m2 < 0.2
    assert cancelled.remaining_area_m2 == pytest.approx(total - cancelled.release.area_m2,
                                                        abs=0.01)
    assert repo.get(conn, HazardArea, id=hazard.id).status == "worked_on"

    # 2. TS reduces the next quarter, 3. clearance the third
    reduced = book(conn, hazard, report.id, strip(37.301, 37.302), "reduced", "MDD")
    cleared = book(conn, hazard, report.id, strip(37.302, 37.303), "cleared", "MANUAL",
                   depth_cm=13)
    released = sum(r.release.area_m2 for r in (cancelled, reduced, cleared))
    assert cleared.remaining_area_m2 == pytest.approx(total - released, abs=0.01)
    assert cleared.remaining_area_m2 == pytest.approx(geodesic_area_m2(strip(37.303, E)),
                                                      abs=1.0)
    assert abs(books_balance(conn, hazard.id)) <= 0.01

    # 4. a fourth release overlapping the cleared strip by 0.0005 degrees of longitude
    with pytest.raises(LedgerConflict) as refused:
        book(conn, hazard, report.id, strip(37.3025, 37.3035), "cleared", "MECHANICAL")
    expected_overlap = geodesic_area_m2(strip(37.3025, 37.303))  # about 8,105 m²
    # (less the sub-millimetre slivers along the field's geodesic edges)
    assert refused.value.detail["overlap_m2"] == pytest.approx(expected_overlap, abs=0.1)
    assert [o["release_id"] for o in refused.value.detail["overlaps"]] == [
        str(cleared.release.id)]
    assert "cannot be released twice" in refused.value.message

    books = history.ledger(conn, hazard_area_id=hazard.id, scope=Scope.everything())
    summary = books["hazard_area"]
    assert summary["cancelled_m2"] == pytest.approx(cancelled.release.area_m2)
    assert summary["reduced_m2"] == pytest.approx(reduced.release.area_m2)
    assert summary["cleared_m2"] == pytest.approx(cleared.release.area_m2)
    after = [r["remaining_after_m2"] for r in books["releases"]]
    assert after == pytest.approx([total - cancelled.release.area_m2,
                                   total - cancelled.release.area_m2 - reduced.release.area_m2,
                                   total - released], abs=0.01)


def test_release_outside_is_clipped_within_gps_noise_and_refused_beyond(
        conn: psycopg.Connection, programme: Programme, organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    # 0.3 m north of the boundary: GPS noise, clipped and reported
    noisy = book(conn, hazard, report.id, strip(W, 37.301, north=N + 0.3 / 111_200))
    assert noisy.clipped_m2 > 0
    assert any("clipped" in w for w in noisy.warnings)
    assert noisy.release.area_m2 == pytest.approx(geodesic_area_m2(strip(W, 37.301)), abs=0.05)
    # 5 m beyond: refused with the excess in m²
    with pytest.raises(LedgerConflict) as refused:
        book(conn, hazard, report.id, strip(37.302, 37.303, north=N + 5 / 111_200))
    excess = refused.value.detail["excess_m2"]
    assert excess == pytest.approx(geodesic_area_m2(strip(37.302, 37.303, N, N + 5 / 111_200)),
                                   rel=0.01)
    assert abs(books_balance(conn, hazard.id)) <= 0.01


def test_release_on_unknown_or_closed_area(conn: psycopg.Connection, programme: Programme,
                                           organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    ghost = hazard.model_copy(update={"id": report.id})
    with pytest.raises(NotFound):
        book(conn, ghost, report.id, strip(W, 37.301))
    conn.execute("UPDATE hazard_area SET status = 'closed' WHERE id = %s", (hazard.id,))
    with pytest.raises(LedgerConflict, match="closed"):
        book(conn, hazard, report.id, strip(W, 37.301))


def test_cancellation_must_be_by_nts(conn: psycopg.Connection, programme: Programme,
                                     organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    with pytest.raises(InvalidInput, match="cancellation is by non-technical survey"):
        book(conn, hazard, report.id, strip(W, 37.301), "cancelled", "MANUAL")
    with pytest.raises(InvalidInput, match="cancellation is by non-technical survey"):
        book(conn, hazard, report.id, strip(W, 37.301), "cleared", "NTS")
    with pytest.raises(InvalidInput, match="without a technical asset"):
        book(conn, hazard, report.id, strip(W, 37.301), "cancelled", "NTS",
             technical_asset=True)
    # and the database refuses it too, whoever writes
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("INSERT INTO release (programme_id, activity_report_id, hazard_area_id, "
                     "product, method, release_date, geom) VALUES (%s, %s, %s, 'cancelled', "
                     "'MANUAL', '2025-01-01', %s)", (programme.id, report.id, hazard.id,
                                                     MultiPolygon([strip(W, 37.301)])))


def test_a_retried_release_is_recognised(conn: psycopg.Connection, programme: Programme,
                                         organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    first = book(conn, hazard, report.id, strip(W, 37.301))
    again = record_release(conn, release=first.release.model_copy(
        update={"geom": MultiPolygon([strip(W, 37.301)])}), actor="test")
    assert again.already_booked and again.release.id == first.release.id
    assert again.remaining_area_m2 == pytest.approx(first.remaining_area_m2)
    assert conn.execute("SELECT count(*) FROM release WHERE hazard_area_id = %s",
                        (hazard.id,)).fetchone()[0] == 1


# --- lifecycle ---

def test_lifecycle_from_sha_to_handed_over(conn: psycopg.Connection, programme: Programme,
                                           organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E), classification="SHA",
                         evidence="indirect")
    with pytest.raises(IllegalTransition, match="direct evidence"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CHA,
                             reason="TS found mines", actor="test")
    repo.insert(conn, EvidencePoint(programme_id=programme.id, hazard_area_id=hazard.id,
                                    evidence="direct", description="PMN-2 visible",
                                    geom=shapely.Point(37.301, 49.201)), actor="test")
    done = lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CHA,
                                reason="PMN-2 visible at the field edge", actor="coordinator",
                                effective=date(2025, 2, 3))
    assert (done.before, done.after) == ("SHA", "CHA")
    with pytest.raises(IllegalTransition, match="allowed: worked_on"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CLOSED,
                             reason="skip ahead", actor="test")

    report = make_report(conn, hazard, organisation)
    book(conn, hazard, report.id, strip(W - 0.001, E + 0.001, S - 0.001, N + 0.001)
         .intersection(strip(W, E)))
    state = repo.get(conn, HazardArea, id=hazard.id)
    assert state.status == "worked_on" and state.remaining_area_m2 < 1.0

    with pytest.raises(IllegalTransition, match="no completion report"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CLOSED,
                             reason="all cleared", actor="test")
    make_report(conn, hazard, organisation, kind="completion")
    lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CLOSED,
                         reason="completion report CR-7", actor="coordinator")
    with pytest.raises(IllegalTransition, match="handover certificate"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.HANDED_OVER,
                             reason="handed over", actor="test")
    make_report(conn, hazard, organisation, kind="handover", handover_men=4, handover_women=6)
    lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.HANDED_OVER,
                         reason="certificate HC-7 signed with the village council",
                         actor="coordinator")
    with pytest.raises(IllegalTransition, match="none"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CHA,
                             reason="again", actor="test")

    events = history.history(conn, hazard_area_id=hazard.id,
                             scope=Scope.everything())["events"]
    transitions = [(e["actor"], e["after"]) for e in events if e["action"] == "transition"]
    assert [after.get("status", after.get("classification")) for _, after in transitions] == [
        "CHA", "worked_on", "closed", "handed_over"]
    assert transitions[0] == ("coordinator", {"classification": "CHA",
                                              "effective": "2025-02-03"})
    reasons = [e["reason"] for e in events if e["action"] == "transition"]
    assert reasons[2] == "completion report CR-7"


def test_closing_needs_remaining_below_the_threshold(conn: psycopg.Connection,
                                                     programme: Programme,
                                                     organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    book(conn, hazard, report.id, strip(W, 37.303))
    make_report(conn, hazard, organisation, kind="completion")
    with pytest.raises(IllegalTransition, match=r"m² remain \(the programme closes areas "
                                                r"with at most 1 m² left\)"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CLOSED,
                             reason="done", actor="test")
    conn.execute("UPDATE programme SET closure_threshold_m2 = 1e7 WHERE id = %s",
                 (programme.id,))
    lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.CLOSED, reason="done",
                         actor="test")


def test_transition_needs_a_reason(conn: psycopg.Connection, programme: Programme) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    with pytest.raises(Exception, match="needs a reason"):
        lifecycle.transition(conn, hazard_area_id=hazard.id, target=Target.WORKED_ON,
                             reason="  ", actor="test")


# --- boundary changes ---

def test_resurvey_keeps_history_and_the_books(conn: psycopg.Connection, programme: Programme,
                                              organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    first = book(conn, hazard, report.id, strip(W, 37.301))
    # TS shows the contamination ends 0.001 degrees further east than mapped
    grown = boundary.resurvey(conn, hazard_area_id=hazard.id, geom=strip(W, E + 0.001),
                              reason="TS lanes found the edge", actor="test",
                              expected_version=repo.get(conn, HazardArea, id=hazard.id).version)
    # widened by the sub-millimetre sliver of the first release that the new line misses
    assert grown.area_m2 == pytest.approx(geodesic_area_m2(strip(W, E + 0.001)), abs=0.05)
    assert grown.remaining_area_m2 == pytest.approx(grown.area_m2 - first.release.area_m2,
                                                    abs=0.01)
    assert abs(books_balance(conn, hazard.id)) <= 0.01
    kept = history.history(conn, hazard_area_id=hazard.id, scope=Scope.everything())
    assert [b["boundary_version"] for b in kept["boundaries"]] == [1]
    assert kept["boundaries"][0]["area_m2"] == pytest.approx(hazard.area_m2)

    with pytest.raises(LedgerConflict, match="outside the new boundary"):
        boundary.resurvey(conn, hazard_area_id=hazard.id, geom=strip(37.3005, E), reason="x",
                          actor="test")
    with pytest.raises(LedgerConflict, match="changed since version"):
        boundary.resurvey(conn, hazard_area_id=hazard.id, geom=strip(W, E), reason="x",
                          actor="test", expected_version=1)


def test_split_carries_releases_with_their_ground(conn: psycopg.Connection,
                                                  programme: Programme,
                                                  organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E), local_id="UA-KH-000900")
    report = make_report(conn, hazard, organisation)
    west = book(conn, hazard, report.id, strip(W, 37.301))          # stays
    east = book(conn, hazard, report.id, strip(37.3035, E))          # moves
    across = book(conn, hazard, report.id, strip(37.3025, 37.3032))  # is cut in two
    # the eastern third cannot be finished now (rubble): it becomes its own CHA
    child = boundary.split(conn, hazard_area_id=hazard.id,
                           part=strip(37.303, E + 0.01, S - 0.01, N + 0.01),
                           reason="rubble, needs mechanical assets", actor="test")
    assert child.local_id == "UA-KH-000900-A" and child.parent_id == hazard.id
    parent = repo.get(conn, HazardArea, id=hazard.id)
    assert parent.area_m2 + child.area_m2 == pytest.approx(hazard.area_m2, abs=0.01)
    for area in (parent.id, child.id):
        assert abs(books_balance(conn, area)) <= 0.01
    moved = repo.get(conn, Release, id=east.release.id)
    assert moved.hazard_area_id == child.id
    assert repo.get(conn, Release, id=west.release.id).hazard_area_id == parent.id
    pieces = repo.list_records(conn, Release, where={"split_from_id": across.release.id})
    assert len(pieces) == 1 and pieces[0].hazard_area_id == child.id
    trimmed = repo.get(conn, Release, id=across.release.id)
    assert trimmed.area_m2 + pieces[0].area_m2 == pytest.approx(across.release.area_m2,
                                                                abs=0.01)
    assert child.status == "worked_on"
    assert check.find_discrepancies(conn) == []
    assert check.summary_drift(conn) == 0


def test_swapped_or_projected_coordinates_are_named(conn: psycopg.Connection,
                                                   programme: Programme) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    with pytest.raises(InvalidGeometry, match="swapped"):
        boundary.resurvey(conn, hazard_area_id=hazard.id, geom=box(S, W, N, E),
                          reason="typed lat/lon", actor="test")
    with pytest.raises(InvalidGeometry, match="projected metres"):
        boundary.resurvey(conn, hazard_area_id=hazard.id,
                          geom=box(420_000, 5_450_000, 420_300, 5_450_200), reason="UTM",
                          actor="test")


def test_split_must_cut_something(conn: psycopg.Connection, programme: Programme) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    with pytest.raises(InvalidGeometry, match="does not overlap"):
        boundary.split(conn, hazard_area_id=hazard.id, part=strip(38.0, 38.1), reason="x",
                       actor="test")
    with pytest.raises(InvalidGeometry, match="outside the programme"):
        boundary.split(conn, hazard_area_id=hazard.id, part=box(S, W, N, E), reason="x",
                       actor="test")
    with pytest.raises(InvalidGeometry, match="whole hazard area"):
        boundary.split(conn, hazard_area_id=hazard.id, part=strip(W - 1, E + 1, S - 1, N + 1),
                       reason="x", actor="test")


# --- the invariant check and its repair ---

def test_check_names_a_corrupted_area_and_repair_fixes_it(conn: psycopg.Connection,
                                                          programme: Programme,
                                                          organisation: Organisation) -> None:
    good = make_hazard(conn, programme, strip(W, E), local_id="UA-T-GOOD")
    bad = make_hazard(conn, programme, strip(W, E, S + 0.01, N + 0.01), local_id="UA-T-BAD")
    for hazard in (good, bad):
        report = make_report(conn, hazard, organisation)
        book(conn, hazard, report.id, hazard.geom.intersection(
            strip(W, 37.302, S - 1, N + 1)))
    assert check.find_discrepancies(conn) == []
    # someone deletes remaining ground by hand: the books no longer balance
    lost = conn.execute("DELETE FROM remaining_piece WHERE id = (SELECT id FROM "
                        "remaining_piece WHERE hazard_area_id = %s ORDER BY area_m2 DESC "
                        "LIMIT 1) RETURNING area_m2", (bad.id,)).fetchone()[0]
    found = check.find_discrepancies(conn)
    assert [d.local_id for d in found] == ["UA-T-BAD"]
    assert found[0].discrepancy_m2 == pytest.approx(lost, abs=0.01)
    check.repair(conn, hazard_area_ids=[bad.id], actor="test")
    assert check.find_discrepancies(conn) == []
    # a kept total that drifts from its pieces is named too
    conn.execute("UPDATE hazard_area SET remaining_area_m2 = remaining_area_m2 + 3 "
                 "WHERE id = %s", (good.id,))
    assert [d.local_id for d in check.find_discrepancies(conn)] == ["UA-T-GOOD"]


def test_summary_follows_releases_and_can_be_rebuilt(conn: psycopg.Connection,
                                                     programme: Programme,
                                                     organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, strip(W, E))
    report = make_report(conn, hazard, organisation)
    booked = book(conn, hazard, report.id, strip(W, 37.301), "reduced", "MDD")
    total = conn.execute("SELECT sum(area_m2), sum(releases) FROM ledger_daily "
                         "WHERE programme_id = %s", (programme.id,)).fetchone()
    assert total[0] == pytest.approx(booked.release.area_m2) and total[1] == 1
    conn.execute("UPDATE ledger_daily SET area_m2 = area_m2 + 5")
    assert check.summary_drift(conn) >= 1
    check.rebuild_summary(conn)
    assert check.summary_drift(conn) == 0
