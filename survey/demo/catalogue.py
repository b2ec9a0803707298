"""What the ground holds and how it is worked: ordnance by contamination, evidence texts,
productivity by method, the kinds of hazard-area shape and their land use, all as weighted
tables drawn from with `choose`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from survey.domain.vocab import Contamination, LandUse, Method

_C = Contamination

# What is found, by the contamination of the area: catalogue model names (0003) and weights.
ORDNANCE_BY_CONTAMINATION: dict[Contamination, list[tuple[str, float]]] = {
    _C.AP_MINE: [("PFM-1", 28), ("PMN-2", 25), ("POM-2", 10), ("PFM-1S", 6), ("OZM-72", 6),
                 ("MON-50", 5), ("PMN-4", 4), ("POM-3", 3)],
    _C.AT_MINE: [("TM-62M", 60), ("TM-62P3", 10), ("PTM-1", 8), ("TM-72", 5), ("TM-57", 5),
                 ("PTM-4", 4)],
    _C.CMR: [("9N210", 45), ("9N235", 35), ("PTAB-1M", 6), ("9N24", 4), ("AO-2.5RT", 3)],
    _C.UXO: [("122 mm OF-462", 18), ("152 mm OF-540", 18), ("152 mm 3OF25", 8),
             ("82 mm O-832DU", 14), ("120 mm OF-843B", 12), ("VOG-17", 15), ("VOG-25", 5),
             ("122 mm 9M22U", 6), ("125 mm 3OF26", 4), ("PG-7V", 4), ("30 mm 3UOF8", 5),
             ("Unidentified UXO", 1)],
    _C.AXO: [("Abandoned ammunition (mixed)", 20), ("Small arms ammunition (bulk)", 15),
             ("F-1", 10), ("RGD-5", 10), ("Fuzes and detonators (loose)", 8),
             ("Propellant charges (loose)", 6), ("RPG-26", 5)],
    _C.IED: [("IED-VO-TW", 40), ("IED-VO-PP", 30), ("MUV-2", 10), ("UZRGM", 10)],
}
# How often each contamination type turns up in a find, relative to the others in an area.
FIND_WEIGHT = {_C.AP_MINE: 5.0, _C.AT_MINE: 2.5, _C.CMR: 3.0, _C.UXO: 3.0, _C.AXO: 1.0,
               _C.IED: 0.5}
SCATTERED = ("PFM-1", "PFM-1S", "9N210", "9N235")
MINE_CONTAMINATION = (_C.AP_MINE, _C.AT_MINE)

EVIDENCE_TEXT = {
    _C.AP_MINE: ["PMN-2 visible on the surface", "PFM-1 scattered along the field edge",
                 "tripwire across the track", "OZM-72 stake and tripwire seen"],
    _C.AT_MINE: ["TM-62M visible at the field edge", "tractor destroyed by a mine strike",
                 "row of TM-62M under the verge"],
    _C.CMR: ["tail of a 9M27K rocket (Uragan)", "unexploded 9N210 submunition",
             "cluster craters across the field"],
    _C.UXO: ["unexploded 152 mm projectile", "mortar tail fins in the ground",
             "impact craters and unexploded shells"],
    _C.AXO: ["abandoned ammunition boxes in a trench", "abandoned firing position"],
    _C.IED: ["booby-trapped door of a barn", "wire leading into a culvert"],
}
INDIRECT_TEXT = ["local farmer reports mines laid in 2022", "former military positions (trenches)",
                 "village council reports shelling of the area",
                 "livestock killed by an explosion", "area avoided by the community"]

# Productivity in m² per team-day, by method.
PRODUCTIVITY = {Method.MANUAL: (150, 400), Method.MDD: (900, 2000),
                Method.MECHANICAL: (2500, 7000), Method.COMBINED: (600, 1500)}

# The kinds of shape a hazard area takes, by frequency, and the land use of each.
SHAPE_KINDS = [("field", 0.33), ("tree line", 0.20), ("forest edge", 0.17), ("road verge", 0.12),
               ("field (farmstead)", 0.09), ("fields", 0.09)]
LAND_USE = {
    "field": [(LandUse.AGRICULTURAL, 8), (LandUse.PASTURE, 2)],
    "tree line": [(LandUse.AGRICULTURAL, 5), (LandUse.FOREST, 3), (LandUse.OTHER, 1)],
    "forest edge": [(LandUse.FOREST, 8), (LandUse.PASTURE, 1)],
    "road verge": [(LandUse.INFRASTRUCTURE, 1)],
    "field (farmstead)": [(LandUse.AGRICULTURAL, 4), (LandUse.RESIDENTIAL, 1)],
    "fields": [(LandUse.AGRICULTURAL, 1)],
}


def choose(rnd: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    """One item of a weighted table, drawn with `rnd`."""
    items = [item for item, _ in weighted]
    return rnd.choices(items, weights=[w for _, w in weighted])[0]
