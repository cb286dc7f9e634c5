"""Credit history: did the person keep their commitments, how recently did they fail, is it getting worse."""

from deepcredit.data.schema import Dimension
from deepcredit.features.definitions._sql import count, latest, share
from deepcredit.features.spec import FeatureDef, Source

D, E, R = Dimension.CREDIT_HISTORY, Source.EVENTS, Source.BAD_RUNS
PAY_ON_TIME = "Pay every bill and instalment on or before its due date."


def _rate(days_lo: int, days_hi: int) -> str:
    cond = f"is_outcome = 1 AND age_days > {days_lo} AND age_days <= {days_hi}"
    return f"CAST({count(cond + ' AND is_bad = 1')} AS DOUBLE) / NULLIF({count(cond)}, 0)"


FEATURES = [
    FeatureDef("n_outcomes", D, E, count("is_outcome = 1"), "the number of commitments on your record",
               "Build your record: use credit lightly and repay on time.", fill=0),
    FeatureDef("history_days", D, E, "MAX(age_days)", "the length of your history with us",
               "Your history grows by itself: keep your accounts open and in good standing.",
               risk_direction=-1),
    FeatureDef("n_bad_90d", D, E, count("is_bad = 1", 90),
               "late or missed commitments in the last 3 months", PAY_ON_TIME, risk_direction=1, fill=0),
    FeatureDef("n_bad_365d", D, E, count("is_bad = 1", 365),
               "late or missed commitments in the last 12 months", PAY_ON_TIME, risk_direction=1, fill=0),
    FeatureDef("n_severe_365d", D, E, count("is_severe = 1", 365),
               "commitments not kept at all in the last 12 months (missed, not returned)",
               "Never skip a payment or a return: contact the merchant before a due date if you cannot pay.",
               risk_direction=1, fill=0),
    FeatureDef("bad_rate", D, E, share("is_bad = 1", "is_outcome = 1"),
               "the share of your commitments that were late or missed", PAY_ON_TIME, risk_direction=1),
    FeatureDef("bad_rate_90d", D, E, share("is_bad = 1", "is_outcome = 1", 90),
               "the share of your commitments late or missed in the last 3 months", PAY_ON_TIME,
               risk_direction=1),
    FeatureDef("bad_rate_trend", D, E, f"{_rate(0, 90)} - {_rate(90, 365)}",
               "your recent payments being worse than your earlier ones",
               "Bring your recent payments back on time; recent behaviour weighs most.", risk_direction=1),
    FeatureDef("days_since_last_bad", D, E, "MIN(CASE WHEN is_bad = 1 THEN age_days END)",
               "how recently you last paid late or missed a commitment",
               "Time heals: every month without a late payment improves this.", risk_direction=-1),
    FeatureDef("days_since_last_severe", D, E, "MIN(CASE WHEN is_severe = 1 THEN age_days END)",
               "how recently you last missed a commitment entirely",
               "Time heals: every month without a missed commitment improves this.", risk_direction=-1),
    FeatureDef("last_days_late", D, E, latest("days_late", "is_outcome = 1"),
               "how late your most recent payment was", "Bring your account up to date now.",
               risk_direction=1),
    FeatureDef("max_days_late_90d", D, E, "MAX(CASE WHEN age_days <= 90 THEN days_late ELSE 0 END)",
               "the longest payment delay in the last 3 months", PAY_ON_TIME, risk_direction=1, fill=0),
    FeatureDef("max_days_late_365d", D, E, "MAX(CASE WHEN age_days <= 365 THEN days_late ELSE 0 END)",
               "the longest payment delay in the last 12 months", PAY_ON_TIME, risk_direction=1, fill=0),
    FeatureDef("mean_days_late_180d", D, E,
               "AVG(CASE WHEN is_outcome = 1 AND age_days <= 180 THEN days_late END)",
               "your average payment delay in the last 6 months", PAY_ON_TIME, risk_direction=1),
    FeatureDef("days_late_slope", D, E,
               "30 * regr_slope(CASE WHEN is_outcome = 1 AND age_days <= 365 THEN days_late END, -age_days)",
               "your payment delays growing month by month",
               "Pay a little earlier each month until you are on time again.", risk_direction=1),
    FeatureDef("mean_rating_received", D, E, "AVG(CASE WHEN kind = 'rating' THEN amount END)",
               "the average rating your trading partners gave you",
               "Deliver what you promise to your trading partners.", risk_direction=-1),
    FeatureDef("longest_bad_streak", D, R, "MAX(run_length)",
               "the longest run of consecutive late or missed commitments", PAY_ON_TIME,
               risk_direction=1, fill=0),
    FeatureDef("current_bad_streak", D, R,
               "MAX(CASE WHEN run_end_age = last_outcome_age THEN run_length ELSE 0 END)",
               "late or missed commitments in a row up to now",
               "Your next on-time payment ends this streak.", risk_direction=1, fill=0),
    FeatureDef("n_bad_runs_365d", D, R, "SUM(CASE WHEN run_end_age <= 365 THEN 1 ELSE 0 END)",
               "separate episodes of late payment in the last 12 months", PAY_ON_TIME,
               risk_direction=1, fill=0),
]
