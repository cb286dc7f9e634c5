"""The reference feature catalogue: what features.templates produces for the simulator's spec.

`ALL_FEATURES` is kept for callers that name features from the catalogue (`deepcredit features --features`);
a data set's own features come from its spec (`features_for(dataset.spec)`), which build_features uses.
"""

from deepcredit.data.spec import builtin_spec
from deepcredit.features.spec import FeatureDef
from deepcredit.features.templates import features_for

ALL_FEATURES: list[FeatureDef] = features_for(builtin_spec("simulator"))


def by_name(names: list[str] | None = None, catalogue: list[FeatureDef] | None = None) -> list[FeatureDef] | None:
    """Definitions for the given names in catalogue order (`catalogue`: default the reference one).

    None for no names: the data set's own features (build_features' default).
    """
    if names is None:
        return None
    known = {f.name: f for f in (catalogue if catalogue is not None else ALL_FEATURES)}
    unknown = [n for n in names if n not in known]
    if unknown:  # a user's --features: a ValueError the CLI prints as one line, with the names it could take
        raise ValueError(f"unknown feature(s): {', '.join(unknown)}; this data set's features are "
                         f"{', '.join(known)}")
    return [known[n] for n in names]
