"""The feature catalogue, one module per dimension. `ALL_FEATURES` is the default feature set."""

from deepcredit.features.definitions import (
    behaviour_preferences,
    credit_history,
    fulfilment_capacity,
    identity,
    social_connections,
)
from deepcredit.features.spec import FeatureDef

ALL_FEATURES: list[FeatureDef] = [
    *identity.FEATURES,
    *credit_history.FEATURES,
    *fulfilment_capacity.FEATURES,
    *behaviour_preferences.FEATURES,
    *social_connections.FEATURES,
]


def by_name(names: list[str] | None = None) -> list[FeatureDef]:
    """Definitions for the given names (all when None), in catalogue order."""
    if names is None:
        return list(ALL_FEATURES)
    known = {f.name: f for f in ALL_FEATURES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown feature(s): {', '.join(unknown)}")
    return [known[n] for n in names]
