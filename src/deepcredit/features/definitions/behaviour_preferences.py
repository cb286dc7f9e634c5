"""Behaviour preferences: what the person uses, how regularly, with how many partners."""

from deepcredit.data.schema import Dimension
from deepcredit.features.definitions._sql import count, share
from deepcredit.features.spec import FeatureDef, Source

D, E = Dimension.BEHAVIOUR_PREFERENCES, Source.EVENTS
REGULAR = "Use your account regularly and settle what you use."

FEATURES = [
    FeatureDef("events_per_month_365d", D, E, f"{count('1 = 1', 365)} / 12.0",
               "how often you use the services", REGULAR, fill=0),
    FeatureDef("active_months_365d", D, E,
               "COUNT(DISTINCT CASE WHEN age_days <= 365 THEN FLOOR(age_days / 30) END)",
               "in how many of the last 12 months you were active", REGULAR, risk_direction=-1, fill=0),
    FeatureDef("days_since_last_event", D, E, "MIN(age_days)", "how long ago you last used the services",
               REGULAR),
    FeatureDef("n_counterparties_365d", D, E,
               "COUNT(DISTINCT CASE WHEN age_days <= 365 THEN counterparty END)",
               "how many different merchants or partners you dealt with", REGULAR, fill=0),
    FeatureDef("share_rental_365d", D, E, share("kind = 'rental'", "1 = 1", 365),
               "the share of rentals in what you do", REGULAR),
    FeatureDef("share_order_365d", D, E, share("kind = 'order'", "1 = 1", 365),
               "the share of orders in what you do", REGULAR),
    FeatureDef("share_utility_365d", D, E, share("kind = 'utility'", "1 = 1", 365),
               "the share of utility bills in what you do", "Pay your utility bills through your account."),
    FeatureDef("share_paid_full_180d", D, E, share("status = 'paid_full'", "is_outcome = 1", 180),
               "how often you paid your statement in full", "Pay your statement balance in full.",
               risk_direction=-1),
    FeatureDef("share_revolving_180d", D, E, share("status = 'revolving'", "is_outcome = 1", 180),
               "how often you carried a balance over", "Carry less balance from month to month."),
    FeatureDef("share_unused_180d", D, E, share("status = 'no_consumption'", "is_outcome = 1", 180),
               "how often your account went unused", REGULAR),
]
