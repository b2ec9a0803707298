"""Where the demo programme lies: Izium raion of Kharkiv oblast, its hromadas, settlements,
rivers and roads, and the 2022 front lines along which contamination clusters (all in
lon/lat, approximate positions)."""

from __future__ import annotations

from shapely.geometry import Polygon, box

from survey.domain.vocab import Contamination

DEMO_REGION_LL = box(37.0, 49.0, 37.6, 49.4)
UKRAINE_BOX = box(22.1, 44.3, 40.3, 52.4)
# A rough outline of Kharkiv oblast, enough to hold the demo region.
KHARKIV_OBLAST_LL = Polygon([
    (35.0, 50.05), (35.35, 50.45), (36.2, 50.45), (36.9, 50.35), (37.6, 50.4), (38.1, 50.1),
    (38.0, 49.7), (37.9, 49.35), (37.7, 48.95), (37.35, 48.8), (37.0, 48.85), (36.4, 48.85),
    (35.7, 49.05), (35.2, 49.5),
])

# Hromadas of Izium raion by an approximate centre; their polygons are the Voronoi cells
# of these centres within the demo region. Codes follow the KATOTTH pattern (UA63 is the
# oblast, UA6304 Izium raion); the digits after the raion are illustrative.
HROMADAS = [
    ("UA63040090000082337", "Izium hromada", (37.27, 49.21)),
    ("UA63040010000044211", "Balakliia hromada", (37.06, 49.33)),
    ("UA63040150000012466", "Savyntsi hromada", (37.21, 49.36)),
    ("UA63040030000087654", "Borova hromada", (37.52, 49.35)),
    ("UA63040130000027841", "Oskil hromada", (37.45, 49.23)),
    ("UA63040110000069502", "Kunie hromada", (37.45, 49.07)),
    ("UA63040050000031190", "Barvinkove hromada", (37.10, 49.07)),
]

# Settlements that name the hazard areas near them (approximate positions).
SETTLEMENTS = [
    ("Izium", 37.27, 49.21), ("Kamianka", 37.33, 49.12), ("Dovhenke", 37.22, 49.05),
    ("Sulyhivka", 37.12, 49.10), ("Brazhkivka", 37.40, 49.09), ("Sukha Kamianka", 37.26, 49.03),
    ("Bohorodychne", 37.53, 49.04), ("Virnopillia", 37.06, 49.02), ("Kapytolivka", 37.22, 49.23),
    ("Studenok", 37.44, 49.18), ("Oskil", 37.46, 49.26), ("Borova", 37.56, 49.37),
    ("Kunie", 37.44, 49.10), ("Savyntsi", 37.13, 49.38), ("Topolske", 37.32, 49.29),
    ("Husarivka", 37.04, 49.30), ("Mala Komyshuvakha", 37.17, 49.16), ("Sviatohirsk", 37.57, 49.02),
]

# The Siverskyi Donets through Izium, and the Oskil joining it from the north.
RIVERS_LL = [
    [(37.00, 49.37), (37.08, 49.33), (37.15, 49.27), (37.22, 49.23), (37.27, 49.205),
     (37.31, 49.19), (37.36, 49.17), (37.43, 49.15), (37.50, 49.11), (37.55, 49.07),
     (37.60, 49.04)],
    [(37.58, 49.40), (37.56, 49.32), (37.53, 49.24), (37.50, 49.18), (37.465, 49.13)],
]
# Main roads: M03 Kharkiv-Izium-Sloviansk, and the roads to Borova, Barvinkove and east.
ROADS_LL = [
    [(37.00, 49.40), (37.10, 49.33), (37.20, 49.26), (37.27, 49.215), (37.30, 49.17),
     (37.33, 49.10), (37.38, 49.03), (37.40, 49.00)],
    [(37.29, 49.21), (37.38, 49.26), (37.47, 49.31), (37.56, 49.36), (37.60, 49.38)],
    [(37.27, 49.20), (37.20, 49.13), (37.12, 49.06), (37.05, 49.00)],
    [(37.33, 49.10), (37.43, 49.08), (37.52, 49.06), (37.60, 49.05)],
]

_C = Contamination
# Where the clusters of contamination lie (2022 front lines and the roads), how much
# of it each line gets, and what was left there.
FRONTS_LL: list[tuple[list[tuple[float, float]], float, list[tuple[Contamination, float]]]] = [
    ([(37.02, 49.07), (37.12, 49.09), (37.22, 49.10), (37.30, 49.12), (37.40, 49.11),
      (37.50, 49.09)], 0.40,
     [(_C.AP_MINE, 5), (_C.AT_MINE, 4), (_C.UXO, 4), (_C.CMR, 2), (_C.IED, 0.5)]),
    ([(37.50, 49.18), (37.53, 49.26), (37.55, 49.34), (37.57, 49.39)], 0.20,
     [(_C.AP_MINE, 4), (_C.CMR, 3), (_C.UXO, 3), (_C.AT_MINE, 2)]),
    ([(37.05, 49.36), (37.12, 49.30), (37.20, 49.25)], 0.15,
     [(_C.AT_MINE, 3), (_C.UXO, 4), (_C.CMR, 2), (_C.AP_MINE, 2)]),
    ([(37.22, 49.19), (37.27, 49.22), (37.33, 49.20)], 0.10,
     [(_C.UXO, 4), (_C.CMR, 3), (_C.AXO, 2), (_C.IED, 1)]),
]
