"""End to end through the command line, on files shaped like the Berka bank data (PKDD'99): `;`-separated
.asc files with quoted text and dates as 930705, accounts with a district code, a table of districts, a
transaction log (credits and debits, no status), cards keyed by a disposition (read through a lookup
table, their dates with a time after them) and loans whose outcome is a status code; drafted, edited as
a modeller would, ingested, trained, explained."""

from __future__ import annotations

import csv
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


def _write(frame: pd.DataFrame, path) -> None:
    frame.to_csv(path, sep=";", index=False, quoting=csv.QUOTE_NONNUMERIC)


def _files(folder, n: int = 200) -> None:
    rng = np.random.default_rng(3)
    accounts = np.arange(1, n + 1) * 3
    opened = pd.Timestamp("1993-01-01") + pd.to_timedelta(rng.integers(0, 400, n), "D")
    risk = rng.normal(size=n)
    _write(pd.DataFrame({"account_id": accounts, "district_id": rng.integers(1, 11, n),
                         "frequency": rng.choice(["POPLATEK MESICNE", "POPLATEK TYDNE"], n),
                         "date": opened.strftime("%y%m%d").astype(int)}), folder / "account.asc")
    _write(pd.DataFrame({"A1": np.arange(1, 11), "A2": [f"district {i}" for i in range(1, 11)],
                         "A13": np.round(rng.uniform(0.5, 9.5, 10), 2)}), folder / "district.asc")
    _write(pd.DataFrame({"disp_id": accounts + 1, "client_id": np.arange(1, n + 1), "account_id": accounts,
                         "type": "OWNER"}), folder / "disp.asc")
    rows = []
    for i, account in enumerate(accounts):
        day = opened[i]
        for _ in range(24):
            day += pd.Timedelta(days=int(rng.integers(5, 25)))
            credit = rng.random() < 0.4
            amount = rng.gamma(2, 3000) if credit else rng.gamma(2, 1500 * np.exp(0.5 * risk[i]))
            rows.append((len(rows) + 1, account, day.strftime("%y%m%d"), "PRIJEM" if credit else "VYDAJ",
                         round(amount, 1), "" if credit else rng.choice(["SIPO", "UVER", ""])))
    trans = pd.DataFrame(rows, columns=["trans_id", "account_id", "date", "type", "amount", "k_symbol"])
    _write(trans.assign(date=trans["date"].astype(int)), folder / "trans.asc")
    _write(pd.DataFrame({"card_id": np.arange(1, 51), "disp_id": accounts[:50] + 1, "type": "classic",
                         "issued": [f"{d:%y%m%d} 00:00:00" for d in opened[:50] + pd.Timedelta(days=30)]}),
           folder / "card.asc")
    bad = risk + rng.normal(scale=0.7, size=n) > 0.9
    _write(pd.DataFrame({"loan_id": np.arange(5000, 5000 + n), "account_id": accounts,
                         "date": (opened + pd.Timedelta(days=400)).strftime("%y%m%d").astype(int),
                         "amount": rng.integers(5000, 50000, n),
                         "status": np.where(bad, rng.choice(["B", "D"], n), rng.choice(["A", "C"], n))}),
           folder / "loan.asc")


def _edited(draft: str) -> str:
    """What a modeller changes in the draft: which way each transaction's money moves, and which loan
    statuses are bad (B: finished unpaid, D: running in debt)."""
    out = draft.replace('"PRIJEM" = { amount = "neutral" }', '"PRIJEM" = { amount = "received" }')
    out = out.replace('"VYDAJ" = { amount = "neutral" }', '"VYDAJ" = { amount = "spent" }')
    out = re.sub(r"\nbad = \[.*\n", '\nbad = ["B", "D"]\n', out)
    return re.sub(r"\ngood = \[.*\n", '\ngood = ["A", "C"]\n', out)


def test_bank_shaped_files_from_draft_to_reasons(tmp_path):
    _files(tmp_path)
    spec = tmp_path / "berka.toml"
    files = ["--people", f"district={tmp_path / 'district.asc'}", "--events", str(tmp_path / "trans.asc"),
             "--events", f"cards={tmp_path / 'card.asc'}", "--lookup", f"disp={tmp_path / 'disp.asc'}",
             "--outcomes", str(tmp_path / "loan.asc")]
    _ok(["spec", "draft", str(tmp_path / "account.asc"), *files, "--out", str(spec)])
    draft = spec.read_text()
    for proposed in ('delimiter = ";"', 'date_format = "%y%m%d"', 'id_column = "A1"', 'join_on = "district_id"',
                     'status = ""  # none found: an activity log', 'person_via = "disp"', 'label = "status"',
                     'as_of_column = "date"'):
        assert proposed in draft, proposed
    spec.write_text(_edited(draft))
    shown = _ok(["ingest", "--spec", str(spec), "--people", str(tmp_path / "account.asc"), *files,
                 "--out", str(tmp_path / "ds")])
    assert "people: 200" in shown and "money only 4,800, activity 50" in shown, shown  # 24 transactions each, 50 cards
    ds = Dataset(tmp_path / "ds")
    people = ds.read("people")
    assert people["a13"].notna().all()  # every account's district figures
    assert ds.read("outcomes")["as_of"].min() >= pd.Timestamp("1994-02-05")
    _ok(["train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "m"), "--members", "scorecard,gbdt",
         "--member-param", "gbdt.n_estimators=30"])
    explained = _ok(["explain", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "ds"), "--person", "3"])
    assert re.match(r"3 as of 199\d-\d\d-\d\d: score \d{3} \(\w[\w ]*\), PD \d+\.\d\d%", explained), explained
    assert "no data" in explained.split("what lowers the score most")[0]  # no relations: social connections
