"""Whole drafts pinned as text: `spec draft` on varied files (the bundled data sets, a European CSV, a bank's
people, ledger, lookups and network, a simulated world) must write exactly the spec it wrote when the text
was saved. Why: the drafting modules are many and each test of them checks a line or two; a refactor must
change no line anywhere. An intended change to a draft: rerun with DEEPCREDIT_REPIN_DRAFTS=1, which rewrites
tests/data/pinned_drafts/, and review the diff."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec

from .shop import write_files

PINNED = Path(__file__).with_name("pinned_drafts")
BUNDLED = Path(__file__).resolve().parents[2] / "src" / "deepcredit" / "data" / "datasets" / "files"


def _bank(folder: Path) -> dict[str, Path]:
    """A bank's files written as a German spreadsheet exports them (semicolons, decimal commas, day-first
    dates, Latin-1, a title line, "n/a" for missing), with codes, a series, a birth date and a label in words;
    a ledger with statuses, parts and payments; a lookup of accounts; a network; more profile and events."""
    rng = np.random.default_rng(7)
    n = 120
    ids = [f"K{i:04d}" for i in range(n)]
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1400, n), unit="D")
    born = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 18000, n), unit="D")
    people = pd.DataFrame(
        {
            "kunden_nr": ids,
            "einkommen": [f"{v:.2f}".replace(".", ",") for v in rng.normal(3200, 900, n)],
            "geburtsdatum": born.strftime("%d.%m.%Y"),
            "kunde_seit": signup.strftime("%d.%m.%Y"),
            "plz": [f"0{rng.integers(1000, 9999)}" for _ in range(n)],
            "größe": rng.integers(150, 200, n).astype(str),
            "familienstand": rng.choice(["ledig", "Ledig", "verheiratet", "geschieden"], n),
            "pay_amt1": rng.integers(0, 900, n).astype(str),
            "pay_amt2": rng.integers(0, 900, n).astype(str),
            "pay_amt3": rng.integers(0, 900, n).astype(str),
            "referrer_id": [ids[i - 1] if i % 7 == 0 else "" for i in range(n)],
            "household": [f"H{i // 3}" for i in range(n)],
            "status": rng.choice(["Fully Paid", "Charged Off", "Current"], n, p=[0.7, 0.1, 0.2]),
            "rate": [
                f"{v:.1f} %".replace(".", ",") if i % 11 else "n/a"
                for i, v in enumerate(rng.uniform(1, 9, n))
            ],
        }
    )
    paths = {"people": folder / "kunden.csv"}
    text = "Export vom 01.02.2025\n" + people.to_csv(index=False, sep=";")
    paths["people"].write_bytes(text.encode("latin-1"))
    rows = 600
    who = rng.choice(ids[:100], rows)
    due = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows) // 30 * 30, unit="D")
    late = rng.choice([0, 0, 0, 3, 40], rows)
    events = pd.DataFrame(
        {
            "account_id": [f"A{ids.index(w):04d}" for w in who],
            "faellig_am": due.strftime("%Y-%m-%d"),
            "bezahlt_am": [
                (d + pd.Timedelta(days=int(x))).strftime("%Y-%m-%d") if x < 40 else ""
                for d, x in zip(due, late, strict=True)
            ],
            "art": rng.choice(["instalment", "fee", "refund"], rows),
            "zustand": rng.choice(["paid", "late", "unpaid", "cancelled", "weird"], rows),
            "amt_instalment": rng.integers(50, 500, rows).astype(str),
            "amt_payment": rng.integers(0, 500, rows).astype(str),
            "balance": rng.normal(1000, 300, rows).round(2).astype(str),
            "channel": rng.choice(["web", "branch", "phone"], rows),
            "merchant_code": [f"M{v}" for v in rng.integers(0, 40, rows)],
        }
    )
    paths["events"] = folder / "raten.csv"
    events.to_csv(paths["events"], index=False)
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "kunden_nr": ids,
            "opened": signup.strftime("%Y-%m-%d"),
        }
    )
    paths["accounts"] = folder / "konten.csv"
    accounts.to_csv(paths["accounts"], index=False)
    ties = pd.DataFrame(
        {
            "borrower_id": rng.choice(ids, 80),
            "guarantor_id": rng.choice(ids, 80),
            "seit": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 500, 80), unit="D")
            ).strftime("%Y-%m-%d"),
            "typ": rng.choice(["family", "business"], 80),
            "strength": rng.integers(-3, 10, 80).astype(str),
        }
    )
    paths["relations"] = folder / "buergen.csv"
    ties.to_csv(paths["relations"], index=False)
    outcomes = pd.DataFrame(
        {
            "kunden_nr": ids,
            "stichtag": "2025-01-01",
            "ausfall": rng.choice(["ja", "nein"], n),
            "horizon_days": "180",
        }
    )
    paths["outcomes"] = folder / "ausfall.csv"
    outcomes.to_csv(paths["outcomes"], index=False)
    scores = pd.DataFrame(
        {
            "kunden_nr": ids * 2,
            "valid_from": ["2023-01-01"] * n + ["2024-01-01"] * n,
            "bureau_score": rng.integers(300, 900, 2 * n).astype(str),
        }
    )
    paths["bureau"] = folder / "schufa.csv"
    scores.to_csv(paths["bureau"], index=False)
    log = pd.DataFrame(
        {
            "kunden_nr": rng.choice(ids, 300),
            "day": rng.integers(0, 900, 300).astype(str),
            "what": rng.choice(["salary", "atm", "card_pay", "transfer"], 300),
            "betrag": rng.normal(0, 400, 300).round(2).astype(str),
        }
    )
    paths["log"] = folder / "umsaetze.csv"
    log.to_csv(paths["log"], index=False)
    return paths


def _shop(european: bool) -> Callable[[Path], str]:
    def draft(tmp: Path) -> str:
        paths = write_files(tmp / "shop", european)
        return draft_spec(paths["people"], events=paths["events"], outcomes=paths["outcomes"])

    return draft


def _bank_people_alone(tmp: Path) -> str:
    return draft_spec(_bank(tmp)["people"])


def _bank_all(tmp: Path) -> str:
    p = _bank(tmp)
    return draft_spec(
        p["people"],
        name="bank",
        events=p["events"],
        relations=p["relations"],
        outcomes=p["outcomes"],
        more_events={"log": p["log"]},
        lookups={"accounts": p["accounts"]},
        more_profile={"bureau": p["bureau"]},
    )


def _simulated(tmp: Path) -> str:
    from deepcredit.data.simulate import simulate_world

    simulate_world(tmp / "world", people=150, seed=3, mean_events=8.0)
    tables = {t: tmp / "world" / t for t in ("people", "events", "relations", "outcomes")}
    return draft_spec(
        tables["people"], events=tables["events"], relations=tables["relations"], outcomes=tables["outcomes"]
    )


CASES: dict[str, Callable[[Path], str]] = {
    "german": lambda tmp: draft_spec(BUNDLED / "german_credit.csv.gz"),
    "german_with_otc": lambda tmp: draft_spec(
        BUNDLED / "german_credit.csv.gz",
        events=BUNDLED / "bitcoin_otc_ratings.csv.gz",
        relations=BUNDLED / "bitcoin_otc_ratings.csv.gz",
    ),
    "shop": _shop(european=False),
    "shop_european": _shop(european=True),
    "bank_people": _bank_people_alone,
    "bank_all": _bank_all,
    "simulated": _simulated,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_draft_is_the_pinned_text(case: str, tmp_path: Path) -> None:
    drafted = CASES[case](tmp_path)
    pinned = PINNED / f"{case}.toml"
    if os.environ.get("DEEPCREDIT_REPIN_DRAFTS") == "1":
        pinned.write_text(drafted, encoding="utf-8")
    assert drafted == pinned.read_text(encoding="utf-8"), f"the draft of {case} differs from {pinned}"
