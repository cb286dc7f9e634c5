"""Writes Home-Credit-sized synthetic files into the current folder, for the ingest measurement of
docs/results/ingest-memory-2026-12-04.json (their spec: docs/results/ingest-hc-synthetic.toml):
307,511 applicants; 14.2M instalment rows (parts, paid beside owed); 10.1M monthly POS balances;
1.7M bureau credits and their 27.1M monthly statuses (read through a lookup)."""
import numpy as np
import pandas as pd

rng = np.random.default_rng(11)
n = 307_511
ids = np.arange(100002, 100002 + n)
risk = rng.beta(2, 5, n)
pd.DataFrame({"SK_ID_CURR": ids, "TARGET": (rng.random(n) < 0.02 + 0.2 * risk).astype(int),
              "AMT_INCOME_TOTAL": (150000 * (1.3 - risk)).round(1),
              "DAYS_EMPLOYED": np.where(rng.random(n) < 0.18, 365243, -rng.integers(100, 8000, n))}).to_csv("application_train.csv", index=False)
# instalments: 44 per person on average, 5% paid in two parts
k = rng.poisson(44, n).clip(1, 120)
person = np.repeat(ids, k)
r = np.repeat(risk, k)
num = np.concatenate([np.arange(1, x + 1) for x in k])
due = -30 * num
late = rng.random(len(person)) < r * 0.3
paid_day = due + np.where(late, rng.integers(1, 60, len(person)), -rng.integers(0, 5, len(person)))
two = rng.random(len(person)) < 0.05
rep = np.where(two, 2, 1)


def P(a: np.ndarray) -> np.ndarray:
    return np.repeat(a, rep)


amt = P(rng.gamma(2, 5000, len(person)).round(2))
idx = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
paid = np.where(P(two), amt / 2, amt) * np.where(P(late), 0.8, 1.0)
pd.DataFrame({"SK_ID_PREV": P(person * 10 + 1), "SK_ID_CURR": P(person), "NUM_INSTALMENT_VERSION": 1,
              "NUM_INSTALMENT_NUMBER": P(num), "DAYS_INSTALMENT": P(due), "DAYS_ENTRY_PAYMENT": P(paid_day) + idx,
              "AMT_INSTALMENT": amt, "AMT_PAYMENT": paid.round(2)}).to_csv("installments_payments.csv", index=False)
print("instalments", rep.sum())
# POS monthly balances: ~33 months per person
m = rng.poisson(33, n).clip(1, 96)
person = np.repeat(ids, m)
r = np.repeat(risk, m)
months = -np.concatenate([np.arange(1, x + 1) for x in m])
pd.DataFrame({"SK_ID_PREV": person * 10 + 2, "SK_ID_CURR": person, "MONTHS_BALANCE": months,
              "CNT_INSTALMENT": 12.0, "SK_DPD": np.where(rng.random(len(person)) < r * 0.1, rng.integers(1, 120, len(person)), 0)}
             ).to_csv("POS_CASH_balance.csv", index=False)
print("pos", len(person))
# bureau: 5.5 credits per person, 16 months each
b = rng.poisson(5.5, n).clip(0, 30)
owner = np.repeat(ids, b)
bid = np.arange(5_000_000, 5_000_000 + len(owner))
pd.DataFrame({"SK_ID_CURR": owner, "SK_ID_BUREAU": bid, "CREDIT_ACTIVE": "Active"}).to_csv("bureau.csv", index=False)
mm = rng.poisson(16, len(bid)).clip(1, 96)
bb = np.repeat(bid, mm)
rr = np.repeat(np.repeat(risk, b), mm)
months = -np.concatenate([np.arange(0, x) for x in mm])
st = np.where(rng.random(len(bb)) < rr * 0.05, "1", np.where(rng.random(len(bb)) < 0.3, "X", "0"))
pd.DataFrame({"SK_ID_BUREAU": bb, "MONTHS_BALANCE": months, "STATUS": st}).to_csv("bureau_balance.csv", index=False)
print("bureau", len(bid), "bureau_balance", len(bb))
