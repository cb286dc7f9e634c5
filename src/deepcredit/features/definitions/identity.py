"""Identity: who the person is and how well that is established (profile attributes, tenure)."""

from deepcredit.data.schema import Dimension
from deepcredit.features.spec import FeatureDef, Kind, Source

D, P = Dimension.IDENTITY, Source.PROFILE

FEATURES = [
    FeatureDef("identity_verified", D, P,
               "MAX(CASE WHEN identity_verified THEN 1 ELSE 0 END)",
               "whether your identity documents are verified",
               "Verify your identity documents in your account settings.",
               risk_direction=-1, requires=("identity_verified",)),
    FeatureDef("education", D, P, "MAX(education)", "your declared education level",
               "Keep your education details up to date.", kind=Kind.CATEGORICAL, requires=("education",)),
    FeatureDef("occupation", D, P, "MAX(occupation)", "your occupation group",
               "Keep your occupation details up to date.", kind=Kind.CATEGORICAL, requires=("occupation",)),
    FeatureDef("city_tier", D, P, "MAX(city_tier)", "the tier of the city you live in",
               "Keep your address up to date.", requires=("city_tier",)),
    FeatureDef("tenure_days", D, P, "MAX(joined_age_days)", "how long you have been a member",
               "Your tenure grows by itself: keep your account in good standing.",
               risk_direction=-1, requires=("joined_at",)),
]
