"""TLC taxi zone ids the taxi features and the taxi generator share.

From the TLC taxi zone lookup: airports are JFK 132, LaGuardia 138, Newark (EWR) 1;
264/265 mean unknown / outside NYC. ``MANHATTAN_CORE`` is the Manhattan zones south of
96th Street, where the $2.50 congestion surcharge applies.
"""

JFK = 132
LAGUARDIA = 138
NEWARK = 1
UNKNOWN_ZONES = (264, 265)

MANHATTAN = (
    4, 12, 13, 24, 41, 42, 43, 45, 48, 50, 68, 74, 75, 79, 87, 88, 90, 100, 103, 104, 105,
    107, 113, 114, 116, 120, 125, 127, 128, 137, 140, 141, 142, 143, 144, 148, 151, 152,
    153, 158, 161, 162, 163, 164, 166, 170, 186, 194, 202, 209, 211, 224, 229, 230, 231,
    232, 233, 234, 236, 237, 238, 239, 243, 244, 246, 249, 261, 262, 263,
)
# Upper Manhattan (north of 96th St), Randalls Island and Roosevelt Island: no congestion surcharge.
_NORTH_OF_96TH = (24, 41, 42, 74, 75, 116, 120, 127, 128, 151, 152, 153, 166, 194, 202, 243, 244)
MANHATTAN_CORE = tuple(zone for zone in MANHATTAN if zone not in _NORTH_OF_96TH)
