"""Fulfilment capacity: can the person afford their commitments (limits, income, amounts paid vs owed)."""

from deepcredit.data.schema import Dimension
from deepcredit.features.definitions._sql import latest, total
from deepcredit.features.spec import FeatureDef, Source

D = Dimension.FULFILMENT_CAPACITY
PAYMENTS = "kind IN ('repayment', 'instalment')"
PAID_180D = total("amount", PAYMENTS, 180)
BILLED_180D = total("GREATEST(amount, 0)", "kind = 'bill'", 180)

FEATURES = [
    FeatureDef("credit_limit", D, Source.PROFILE, "MAX(credit_limit)", "the size of your credit line",
               "A good repayment record lets your lender raise your line.", risk_direction=-1,
               requires=("credit_limit",)),
    FeatureDef("log_income", D, Source.PROFILE, "MAX(LN(1 + GREATEST(income, 0)))", "your declared income",
               "Keep your income details up to date.", risk_direction=-1, requires=("income",)),
    FeatureDef("amount_paid_180d", D, Source.EVENTS, PAID_180D,
               "how much you repaid in the last 6 months", "Repay more than the minimum each month.",
               risk_direction=-1, fill=0),
    FeatureDef("amount_billed_180d", D, Source.EVENTS, BILLED_180D,
               "how much you were billed in the last 6 months", "Keep your spending within your means."),
    FeatureDef("paid_to_billed_180d", D, Source.EVENTS,
               f"{PAID_180D} / NULLIF({BILLED_180D}, 0)",
               "the share of your bills that you repaid in the last 6 months",
               "Repay your full statement balance when you can.", risk_direction=-1),
    FeatureDef("last_bill_amount", D, Source.EVENTS, latest("amount", "kind = 'bill'"),
               "your latest statement balance", "Bring your balance down."),
    FeatureDef("bill_slope_180d", D, Source.EVENTS,
               "30 * regr_slope(CASE WHEN kind = 'bill' AND age_days <= 180 THEN amount END, -age_days)",
               "your balance growing month by month", "Repay more than you spend each month."),
    FeatureDef("utilisation", D, Source.DERIVED, "last_bill_amount / NULLIF(credit_limit, 0)",
               "how much of your credit line you use", "Keep your balance well below your credit line.",
               risk_direction=1, requires=("credit_limit",)),
    FeatureDef("paid_to_limit_180d", D, Source.DERIVED, "amount_paid_180d / NULLIF(credit_limit, 0)",
               "your repayments relative to your credit line", "Repay more than the minimum each month.",
               risk_direction=-1, requires=("credit_limit",)),
]
