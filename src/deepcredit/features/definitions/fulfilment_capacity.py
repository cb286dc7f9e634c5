"""Fulfilment capacity: can the person afford their commitments (limits, income, amounts paid vs owed)."""

from deepcredit.data.schema import Dimension
from deepcredit.features.definitions._sql import latest, total
from deepcredit.features.spec import FeatureDef, Source

D = Dimension.FULFILMENT_CAPACITY
PAYMENTS = "kind IN ('repayment', 'instalment')"
PAID_180D = total("amount", PAYMENTS, 180)
BILLED_180D = total("GREATEST(amount, 0)", "kind = 'bill'", 180)
# A cycle's payments settle the previous cycle's statements: payments of the last 90 days against
# statements issued 30 to 120 days ago.
PAID_90D = total("amount", PAYMENTS, 90)
BILLED_PRIOR_CYCLE = total("GREATEST(amount, 0)", "kind = 'bill' AND age_days > 30 AND age_days <= 120")


def _mean_bill(lo: int, hi: int) -> str:
    return f"AVG(CASE WHEN kind = 'bill' AND age_days > {lo} AND age_days <= {hi} THEN amount END)"

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
    FeatureDef("amount_paid_30d", D, Source.EVENTS, total("amount", PAYMENTS, 30),
               "how much you repaid in the last month", "Repay more than the minimum each month.",
               risk_direction=-1, fill=0),
    FeatureDef("amount_paid_90d", D, Source.EVENTS, PAID_90D,
               "how much you repaid in the last 3 months", "Repay more than the minimum each month.",
               risk_direction=-1, fill=0),
    FeatureDef("paid_to_prior_billed_90d", D, Source.EVENTS, f"{PAID_90D} / NULLIF({BILLED_PRIOR_CYCLE}, 0)",
               "how much of your recent statements you actually repaid",
               "Repay each statement in full when it falls due.", risk_direction=-1),
    FeatureDef("mean_bill_90d", D, Source.EVENTS, _mean_bill(-1, 90),
               "your average statement balance in the last 3 months", "Bring your balance down."),
    FeatureDef("mean_bill_91_180d", D, Source.EVENTS, _mean_bill(90, 180),
               "your average statement balance 3 to 6 months ago", "Bring your balance down."),
    FeatureDef("min_paid_to_prev_bill_3c", D, Source.CYCLES,
               "MIN(CASE WHEN cycle < 3 THEN paid_to_prev_billed END)",
               "the smallest share of a statement you repaid in the last 3 months",
               "Repay each statement in full when it falls due.", risk_direction=-1),
    FeatureDef("mean_paid_to_prev_bill_6c", D, Source.CYCLES,
               "AVG(CASE WHEN cycle < 6 THEN paid_to_prev_billed END)",
               "the average share of your statements you repaid in the last 6 months",
               "Repay each statement in full when it falls due.", risk_direction=-1),
    FeatureDef("unpaid_cycles_6c", D, Source.CYCLES,
               "SUM(CASE WHEN cycle < 6 AND prev_billed > 0 AND paid <= 0 THEN 1 ELSE 0 END)",
               "months in which you repaid nothing of a statement", "Repay something every month, on time.",
               risk_direction=1, fill=0),
    FeatureDef("utilisation", D, Source.DERIVED, "last_bill_amount / NULLIF(credit_limit, 0)",
               "how much of your credit line you use", "Keep your balance well below your credit line.",
               risk_direction=1, requires=("credit_limit",)),
    FeatureDef("headroom", D, Source.DERIVED, "credit_limit - last_bill_amount",
               "how much of your credit line is still free", "Keep your balance well below your credit line.",
               risk_direction=-1, requires=("credit_limit",)),
    FeatureDef("mean_utilisation_180d", D, Source.DERIVED,
               "(mean_bill_90d + mean_bill_91_180d) / 2 / NULLIF(credit_limit, 0)",
               "how much of your credit line you used over the last 6 months",
               "Keep your balance well below your credit line.", risk_direction=1, requires=("credit_limit",)),
    FeatureDef("balance_trend", D, Source.DERIVED,
               "(mean_bill_90d - mean_bill_91_180d) / NULLIF(credit_limit, 0)",
               "your balance growing relative to your credit line", "Repay more than you spend each month.",
               risk_direction=1, requires=("credit_limit",)),
    FeatureDef("paid_to_limit_180d", D, Source.DERIVED, "amount_paid_180d / NULLIF(credit_limit, 0)",
               "your repayments relative to your credit line", "Repay more than the minimum each month.",
               risk_direction=-1, requires=("credit_limit",)),
]
