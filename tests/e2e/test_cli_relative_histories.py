"""End to end through the command line, on files shaped like Home Credit's: an application file with a
placeholder, instalments paid in parts (each row the amount owed and its part paid) and dated in day numbers, monthly balances dated in month numbers
with days past due and no status, a bureau's monthly statuses keyed by its credit id only (read through a
lookup table), and a referrer column; drafted, edited as a modeller would, ingested, trained, explained."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _files(folder, n: int = 240) -> None:
    rng = np.random.default_rng(7)
    ids = np.arange(100001, 100001 + n)
    risk = rng.beta(2, 5, n)
    pd.DataFrame({"SK_ID_CURR": ids, "TARGET": (rng.random(n) < 0.05 + 0.6 * risk).astype(int),
                  "AMT_INCOME_TOTAL": (150000 * (1.3 - risk)).round(1),
                  "DAYS_EMPLOYED": np.where(np.arange(n) % 10 == 0, 365243, -rng.integers(100, 8000, n)),
                  "REFERRED_BY": [""] + [str(ids[rng.integers(0, i)]) for i in range(1, n)]}
                 ).to_csv(folder / "application_train.csv", index=False)
    rows = []
    for i, person in enumerate(ids):
        for k in range(1, 6):
            due, late = -30 * k, rng.random() < risk[i]
            paid = due + (int(rng.integers(1, 40)) if late else -2)
            short = 1000.0 * late  # a late instalment is also paid short
            for part in range(1 + (k == 1)):  # the first instalment paid in two parts, each repeating its amount
                rows.append((person * 10, person, k, due, paid + part, 5000.0, (5000.0 - short) / (1 + (k == 1))))
    pd.DataFrame(rows, columns=["SK_ID_PREV", "SK_ID_CURR", "NUM_INSTALMENT_NUMBER", "DAYS_INSTALMENT",
                                "DAYS_ENTRY_PAYMENT", "AMT_INSTALMENT", "AMT_PAYMENT"]
                 ).to_csv(folder / "installments.csv", index=False)
    pd.DataFrame([(person, m, int(rng.integers(1, 120)) if rng.random() < risk[i] / 2 else 0)
                  for i, person in enumerate(ids) for m in range(-6, 0)],
                 columns=["SK_ID_CURR", "MONTHS_BALANCE", "SK_DPD"]).to_csv(folder / "pos.csv", index=False)
    # credits at other lenders (the bureau), and their monthly statuses keyed by the bureau's credit id only
    pd.DataFrame({"SK_ID_CURR": ids, "SK_ID_BUREAU": ids * 100, "CREDIT_ACTIVE": "Active"}).to_csv(
        folder / "bureau.csv", index=False)
    pd.DataFrame([(person * 100, m, rng.choice(["1", "3"]) if rng.random() < risk[i] / 2 else rng.choice(["0", "X"]))
                  for i, person in enumerate(ids) for m in range(-4, 0)],
                 columns=["SK_ID_BUREAU", "MONTHS_BALANCE", "STATUS"]).to_csv(folder / "bureau_balance.csv",
                                                                                index=False)


def _edited(draft: str) -> str:
    """What a modeller changes in the draft: the dates' origin, the instalments' roles and the label's date."""
    out = draft.replace("[profile]", '[format]\ndays_from = 2024-01-01\nmonth_columns = ["MONTHS_BALANCE"]\n\n'
                                     "[profile]", 1)
    out = out.replace('# special = { "365243" = "TODO" }', 'special = { "365243" = "not employed" }')
    events = out[out.index("[events]"):out.index("[more_events.pos]")]
    out = out.replace(events, '''[events]
parts_of = ["SK_ID_PREV", "NUM_INSTALMENT_NUMBER"]
parts_amount = "once"
paid_kind = "payment"

[events.columns]
person_id = "SK_ID_CURR"
ts = "DAYS_INSTALMENT"
kind = ""
amount = "AMT_INSTALMENT"
status = ""
due_ts = "DAYS_INSTALMENT"
settled_ts = "DAYS_ENTRY_PAYMENT"
paid_amount = "AMT_PAYMENT"

[events.kinds]
instalment = { amount = "owed" }
payment = { amount = "paid", commitment = false }

''')
    pos = out[out.index("[more_events.pos]"):out.index("# Relations written")]
    out = out.replace(pos, '''[more_events.pos]
missed_after_days = 90

[more_events.pos.columns]
person_id = "SK_ID_CURR"
ts = "MONTHS_BALANCE"
kind = ""
amount = ""
status = ""
days_late = "SK_DPD"

[more_events.pos.kinds]
pos_month = { amount = "neutral" }

[more_events.bb]
person_via = "bureau"

[more_events.bb.columns]
person_id = "SK_ID_BUREAU"
ts = "MONTHS_BALANCE"
kind = ""
amount = ""
status = "STATUS"

[more_events.bb.kinds]
bureau_month = { amount = "neutral" }

[more_events.bb.statuses]
"0" = { meaning = "kept" }
"1" = { meaning = "late" }
"3" = { meaning = "broken" }
"X" = { meaning = "neutral" }

''')
    return out


def test_home_credit_shaped_files_from_draft_to_reasons(tmp_path):
    _files(tmp_path)
    spec = tmp_path / "hc.toml"
    files = ["--events", str(tmp_path / "installments.csv"), "--events", f"pos={tmp_path / 'pos.csv'}",
             "--events", f"bb={tmp_path / 'bureau_balance.csv'}", "--lookup", f"bureau={tmp_path / 'bureau.csv'}"]
    _ok(["spec", "draft", str(tmp_path / "application_train.csv"), *files, "--out", str(spec)])
    draft = spec.read_text()
    for proposed in ('from_people = ["REFERRED_BY"]', '# special = { "365243" = "TODO" }',
                     "# month_columns = [\"MONTHS_BALANCE\"]", "numbers of days", "[more_events.pos]",
                     "[lookups.bureau]", 'key = "SK_ID_BUREAU"', 'person_via = "bureau"', 'parts_amount = "once"',
                     'amount = "AMT_INSTALMENT"', 'paid_amount = "AMT_PAYMENT"', 'paid_kind = "payment"'):
        assert proposed in draft, proposed
    spec.write_text(_edited(draft))
    shown = _ok(["ingest", "--spec", str(spec), "--people", str(tmp_path / "application_train.csv"), *files,
                 "--snapshot-date", "2025-06-01", "--out", str(tmp_path / "ds")])
    assert "people: 240" in shown and "relations: 239" in shown and "broken" in shown
    events = Dataset(tmp_path / "ds").read("events")
    assert (events["kind"] == "instalment").sum() == 240 * 5  # the first instalment's two parts are one
    owed, paid = (events[events["kind"] == k].groupby("person_id")["amount"].sum() for k in ("instalment", "payment"))
    assert (owed == 25000.0).all() and (paid <= owed).all() and (paid < owed).any()  # paid short when late
    assert events.loc[events["kind"] == "pos_month", "ts"].min() == pd.Timestamp("2023-07-01")  # 6 months back
    bureau = events[events["kind"] == "bureau_month"]  # read through the lookup: each row its person's
    assert len(bureau) == 240 * 4 and set(bureau["person_id"]) == {str(i) for i in range(100001, 100241)}
    _ok(["train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--members", "scorecard,gbdt,graph",
         "--member-param", "gbdt.n_estimators=30", "--member-param", "graph.max_epochs=2"])
    explained = _ok(["explain", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "ds"), "--person", "100002"])
    assert re.match(r"100002 as of 2024-01-01: score \d{3} \(\w[\w ]*\), PD \d+\.\d\d%", explained), explained
    # every dimension has data (profile, four histories, the referral network): the model reads features of
    # all five. (Which the card keeps is the model's: on these labels, that hardly anything predicts, the
    # small-data card, monotone one way, may keep no behaviour characteristic, and its sub-score says "no data".)
    fitted = json.loads((tmp_path / "m" / "manifest.json").read_text())["features"]
    assert {f["dimension"] for f in fitted} == {"identity", "credit_history", "fulfilment_capacity",
                                                  "behaviour_preferences", "social_connections"}
    # reasons show their units: on these labels (as of 2024-01-01 no history is seen yet, so hardly anything
    # predicts them) the stack falls back to its recalibrated scorecard, whose points are then mostly under one;
    # the card alone gives them whole
    _ok(["train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "card"), "--model", "scorecard"])
    explained = _ok(["explain", "--model", str(tmp_path / "card"), "--data", str(tmp_path / "ds"), "--person", "100002"])
    assert re.search(r"\d+ days", explained.split("what lowers the score most")[1])
