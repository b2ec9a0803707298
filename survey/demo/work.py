"""Work on one hazard area: non-technical survey, technical survey and clearance, each
releasing slabs across the area's long axis, from one end towards the other."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry

from survey.demo.catalogue import MINE_CONTAMINATION, PRODUCTIVITY, choose
from survey.demo.records import AS_OF, Site
from survey.demo.shapes import SLIVER_M2, densified_ll, polygons
from survey.domain.geometry import geodesic_area_m2
from survey.domain.models import Task
from survey.domain.vocab import (
    ActivityType,
    Capability,
    Classification,
    Contamination,
    Method,
    Product,
    ReportKind,
    TaskStatus,
)

if TYPE_CHECKING:
    from survey.demo.build import Builder

PAD_M = 50.0  # slabs reach this far past the area, so that a slab cuts it across whole


class AreaWork:
    """One hazard area worked by one organisation from `start`.

    It keeps what remains of the area, how far along the long axis the work has come
    (`cursor`, in metres) and the day it has reached. The steps draw from the builder's
    random generator in a fixed order, so a seed always gives the same work.
    """

    def __init__(self, builder: Builder, site: Site, org_key: str, start: date) -> None:
        self.builder = builder
        self.rnd = builder.rnd
        self.site = site
        self.org_key = org_key
        h = site.record
        shape = site.shape_m
        self.remaining: BaseGeometry = h.geom
        # the long axis of the area, and its extent along (u) and across (v) it
        rect = shape.minimum_rotated_rectangle
        corners = list(rect.exterior.coords)
        edges = [(corners[i], corners[i + 1]) for i in range(2)]
        (ax, ay), (bx, by) = max(edges, key=lambda e: math.dist(*e))
        theta = math.atan2(by - ay, bx - ax)
        u_of = shapely.transform(shape, lambda xy: xy @ np.array(
            [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]))
        self.theta = theta
        self.umin, self.vmin, self.umax, self.vmax = u_of.bounds
        self.length = self.umax - self.umin
        self.cursor = self.umin - PAD_M
        self.day = start
        mines = any(c in MINE_CONTAMINATION for c in h.contamination)
        self.depth = 30 if Contamination.AT_MINE in h.contamination else 20 if mines else 15

    def run(self) -> None:
        """Survey, then technical survey, then clearance, as far as the scenario drawn for
        the area and the demo's AS_OF date allow."""
        rnd = self.rnd
        sha = self.site.record.classification == Classification.SHA
        scenario = choose(rnd, [("full", 0.3), ("partial", 0.55), ("survey", 0.15)])
        if rnd.random() < (0.8 if sha else 0.45):
            self.non_technical_survey(may_cancel_all=sha and scenario == "survey")
        if self.remaining.is_empty or scenario == "survey" or self.day > AS_OF:
            return
        if rnd.random() < 0.5:
            self.technical_survey()
        if self.remaining.is_empty or self.day > AS_OF:
            return
        self.clearance(full=scenario == "full")

    # --- geometry -------------------------------------------------------------------------

    def slab(self, u0: float, u1: float, v0: float | None = None, v1: float | None = None
             ) -> MultiPolygon:
        """The band from u0 to u1 along the long axis, across all of the area unless v0 and
        v1 bound it, in lon/lat."""
        v0 = self.vmin - PAD_M if v0 is None else v0
        v1 = self.vmax + PAD_M if v1 is None else v1
        cut = affinity.rotate(box(u0, v0, u1, v1), self.theta, origin=(0, 0), use_radians=True)
        return densified_ll(cut)

    def carve(self, cutter: MultiPolygon) -> MultiPolygon | None:
        """Take what `cutter` covers of the remaining area (None for a sliver)."""
        piece = polygons(self.remaining.intersection(cutter))
        if piece.is_empty or geodesic_area_m2(piece) < SLIVER_M2 or not piece.is_valid:
            return None
        self.remaining = self.remaining.difference(piece)
        return piece

    # --- the steps ------------------------------------------------------------------------

    def non_technical_survey(self, *, may_cancel_all: bool) -> None:
        """Cancel the side with no evidence of contamination (all of it, sometimes)."""
        rnd, b, site = self.rnd, self.builder, self.site
        team = b.team(self.org_key, Capability.NTS)
        end = self.day + timedelta(days=rnd.randint(1, 6))
        task = b.task(ActivityType.NTS, self.org_key, team, site, self.day, end,
                      TaskStatus.COMPLETED)
        whole = may_cancel_all and rnd.random() < 0.5
        cut_to = self.umax + PAD_M if whole else \
            self.umin + rnd.uniform(0.15, 0.45) * self.length
        report = b.report(task, site, ReportKind.CANCELLATION, self.day, end,
                          rnd.uniform(1, 4), None,
                          "no evidence of contamination on the cancelled part")
        piece = self.carve(self.slab(self.cursor, cut_to))
        if piece is not None:
            b.release(site, report, Product.CANCELLED, Method.NTS, False, None, piece)
        self.cursor = cut_to
        self.day = end + timedelta(days=rnd.randint(7, 40))

    def technical_survey(self) -> None:
        """Reduce a further part, when the survey can end by AS_OF."""
        rnd, b, site = self.rnd, self.builder, self.site
        method = choose(rnd, [(Method.MECHANICAL, 3), (Method.MDD, 3), (Method.MANUAL, 2),
                              (Method.COMBINED, 1)])
        team = b.team(self.org_key, Capability.TS)
        cut_to = self.cursor + rnd.uniform(0.1, 0.3) * self.length
        cutter = self.slab(self.cursor, cut_to)
        area = geodesic_area_m2(self.remaining.intersection(cutter))
        lo, hi = PRODUCTIVITY[method]
        days = area / rnd.uniform(lo * 2, hi * 2)  # TS samples; it does not clear it all
        end = self.day + timedelta(days=max(1, math.ceil(days)))
        if end > AS_OF:
            return
        task = b.task(ActivityType.TS, self.org_key, team, site, self.day, end,
                      TaskStatus.COMPLETED)
        report = b.report(task, site, ReportKind.COMPLETION, self.day, end, days, self.depth,
                          "technical survey: no devices in the reduced part")
        piece = self.carve(cutter)
        if piece is not None:
            b.release(site, report, Product.REDUCED, method, rnd.random() < 0.8, self.depth,
                      piece)
        self.cursor = cut_to
        self.day = end + timedelta(days=rnd.randint(7, 30))

    def clearance(self, *, full: bool) -> None:
        """Clear in lanes across the long axis, split into blocks now and then; all of the
        area when `full`, else part of what is left. A completed task may be handed over."""
        rnd, b, site = self.rnd, self.builder, self.site
        method = choose(rnd, [(Method.MANUAL, 4), (Method.MECHANICAL, 2), (Method.MDD, 2),
                              (Method.COMBINED, 2)])
        capability = {Method.MANUAL: Capability.MANUAL, Method.MDD: Capability.MDD,
                      Method.MECHANICAL: Capability.MECHANICAL}.get(method, Capability.MANUAL)
        team = b.team(self.org_key, capability)
        steps = self.lanes(rnd.randint(2, 6), full=full)
        task = b.task(ActivityType.CLEARANCE, self.org_key, team, site, self.day, None,
                      TaskStatus.ACTIVE)
        lo, hi = PRODUCTIVITY[method]
        completed = False
        for i, (u0, u1, v0, v1) in enumerate(steps):
            last = i == len(steps) - 1
            cutter = self.slab(u0, u1, v0, v1)
            area = geodesic_area_m2(self.remaining.intersection(cutter))
            days = area / rnd.uniform(lo, hi)
            end = self.day + timedelta(days=max(1, min(90, math.ceil(days / 1.5))))
            if end > AS_OF:
                break
            done = last and full
            report = b.report(task, site, ReportKind.COMPLETION if done else ReportKind.PROGRESS,
                              self.day, end, days, self.depth,
                              "clearance completed" if done else f"clearance lane {i + 1}")
            piece = self.carve(cutter)
            if piece is not None:
                b.release(site, report, Product.CLEARED, method, method != Method.MANUAL,
                          self.depth, piece)
            self.day = end + timedelta(days=rnd.randint(0, 10))
            completed = done
        if completed:
            self.complete(task)
        elif rnd.random() < 0.1:
            task.status = TaskStatus.SUSPENDED

    def lanes(self, count: int, *, full: bool) -> list[tuple[float, float, float, float]]:
        """(u0, u1, v0, v1) of each block to clear: `count` lanes from the cursor, to the far
        end when `full`, some split in two blocks across."""
        rnd = self.rnd
        upto = self.umax + PAD_M if full else \
            self.cursor + rnd.uniform(0.3, 0.8) * (self.umax + PAD_M - self.cursor)
        edges_u = [self.cursor + (upto - self.cursor) * i / count for i in range(count + 1)]
        steps: list[tuple[float, float, float, float]] = []
        for u0, u1 in zip(edges_u, edges_u[1:], strict=False):
            if rnd.random() < 0.3:
                vm = self.vmin + rnd.uniform(0.3, 0.7) * (self.vmax - self.vmin)
                steps += [(u0, u1, self.vmin - PAD_M, vm), (u0, u1, vm, self.vmax + PAD_M)]
            else:
                steps.append((u0, u1, self.vmin - PAD_M, self.vmax + PAD_M))
        return steps

    def complete(self, task: Task) -> None:
        """Close the clearance task; the land is often handed over weeks later."""
        rnd, b = self.rnd, self.builder
        task.status = TaskStatus.COMPLETED
        task.actual_end = b.data.activity_reports[-1].report_date
        handover = task.actual_end + timedelta(days=rnd.randint(10, 60))
        if rnd.random() < 0.6 and handover <= AS_OF:
            b.report(task, self.site, ReportKind.HANDOVER, handover, handover, 0.5, None,
                     "land handed over to the community",
                     handover_men=rnd.randint(1, 12), handover_women=rnd.randint(1, 12),
                     handover_boys=rnd.randint(0, 6), handover_girls=rnd.randint(0, 6))
