"""A deterministic demo programme around Izium, Kharkiv oblast (Ukraine).

`generate` builds every record in memory from one seeded `random.Random` (no database,
no clock), so a seed always gives the same programme; `load` writes it through the
store's own functions and every release through the ledger, exactly as the API would.

The parts: `gazetteer` (where things are), `catalogue` (what the ground holds and how
fast it is worked), `shapes` (hazard-area shapes in a local metric plane), `records` (the
fixed names and dates, `DemoData`), `build` (the generator), `work` (survey, technical
survey and clearance of one area) and `load` (writing it, and `reset`).
"""

from __future__ import annotations

from survey.demo.build import generate
from survey.demo.gazetteer import DEMO_REGION_LL
from survey.demo.load import DATA_TABLES, load, reset
from survey.demo.records import (
    AS_OF,
    DEMO_PASSWORD,
    DEMO_PROGRAMME_NAME,
    DEMO_USERS,
    DemoData,
    ordnance_placeholder,
)

__all__ = ["AS_OF", "DATA_TABLES", "DEMO_PASSWORD", "DEMO_PROGRAMME_NAME", "DEMO_REGION_LL",
           "DEMO_USERS", "DemoData", "generate", "load", "ordnance_placeholder", "reset"]
