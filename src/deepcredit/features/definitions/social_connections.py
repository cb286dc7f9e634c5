"""Social connections: whom the person is connected to, and how those people kept their commitments.

Only edges first observed before the as-of date count, and a neighbour's history is cut at the focal
person's as-of date; a neighbour's outcome (label) is never read.
"""

from deepcredit.data.schema import Dimension
from deepcredit.features.spec import FeatureDef, Source

D, N = Dimension.SOCIAL_CONNECTIONS, Source.NEIGHBOURS
NETWORK = "Deal with people who keep their commitments; your own record matters most."

FEATURES = [
    FeatureDef("degree", D, N, "COUNT(*)", "how many people you are connected to", NETWORK, fill=0),
    FeatureDef("new_connections_90d", D, N, "SUM(CASE WHEN edge_age_days <= 90 THEN 1 ELSE 0 END)",
               "how many new connections you made in the last 3 months", NETWORK, fill=0),
    FeatureDef("share_neighbours_bad", D, N, "AVG(CASE WHEN nb_bad > 0 THEN 1.0 ELSE 0.0 END)",
               "the share of your connections with late or missed commitments", NETWORK, risk_direction=1),
    FeatureDef("share_neighbours_severe", D, N, "AVG(CASE WHEN nb_severe > 0 THEN 1.0 ELSE 0.0 END)",
               "the share of your connections who missed commitments entirely", NETWORK, risk_direction=1),
    FeatureDef("neighbour_bad_rate", D, N, "CAST(SUM(nb_bad) AS DOUBLE) / NULLIF(SUM(nb_outcomes), 0)",
               "how often your connections paid late or missed", NETWORK, risk_direction=1),
    FeatureDef("incoming_negative_share", D, N,
               "CAST(SUM(incoming_negative) AS DOUBLE) / NULLIF(SUM(incoming), 0)",
               "the share of people who rated you negatively",
               "Resolve disputes with your trading partners.", risk_direction=1),
    FeatureDef("mean_incoming_weight", D, N,
               "SUM(incoming_weight) / NULLIF(SUM(incoming), 0)",
               "how strongly the people connected to you vouch for you",
               "Deliver what you promise to your trading partners.", risk_direction=-1),
]
