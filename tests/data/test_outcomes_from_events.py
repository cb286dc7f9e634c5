"""Labels told from the event history itself: bad when a broken commitment comes in the window after as-of."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml

from .shop import SPEC, write_files

FROM_EVENTS = """[outcomes]
source = "events"
as_of_dates = [2024-02-01, 2024-03-01]
window_days = 30
{extra}
"""


def _spec(extra: str = ""):
    head = SPEC.format(format="").split("[outcomes]")[0].replace("[profile]", "snapshot_date = 2024-06-01\n[profile]")
    return spec_from_toml(head + FROM_EVENTS.format(extra=extra))


def test_each_as_of_date_labels_the_people_on_the_books_by_what_came_after_it(tmp_path):
    # c1: invoice 01-05 and payment 02-13 (settled); c2: a bounced payment 02-03; c3: no events
    paths = write_files(tmp_path / "shop", False)
    ds = ingest_with_spec(_spec(), {"people": paths["people"], "events": paths["events"]}, tmp_path / "ds")
    labels = ds.read("outcomes")
    got = {(r.person_id, str(r.as_of.date())): r.label for r in labels.itertuples()}
    # 02-01: c1 is on the books (an event before), nothing broken follows; c2's first event is 02-03: not yet
    # on the books. 03-01: c1 good; c2 on the books, its bounce came before 03-01, not within the window
    assert got == {("c1", "2024-02-01"): 0, ("c1", "2024-03-01"): 0, ("c2", "2024-03-01"): 0}
    assert (labels["window_days"] == 30).all()
    wider = ingest_with_spec(_spec().model_copy(update={"outcomes": _spec().outcomes.model_copy(
        update={"as_of_dates": [pd.Timestamp("2024-01-10").date()], "window_days": 30})}),
        {"people": paths["people"], "events": paths["events"]}, tmp_path / "ds2")
    # 01-10 with 30 days: c1 on the books (invoice 01-05); c2's bounce (02-03) falls in the window, but c2
    # had no event before 01-10, so is not labelled then
    assert wider.read("outcomes")[["person_id", "label"]].values.tolist() == [["c1", 0]]


def test_a_bounce_in_the_window_makes_a_person_bad(tmp_path):
    paths = write_files(tmp_path / "shop", False)
    events = pd.read_csv(paths["events"], dtype=str)
    extra = pd.DataFrame({"customer": ["c2"], "booked_at": ["2024-01-20"], "type": ["invoice"], "value": ["10"],
                          "state": ["settled"]})  # c2 on the books before 02-01, then the bounce on 02-03
    pd.concat([events, extra]).to_csv(paths["events"], index=False)
    ds = ingest_with_spec(_spec(), {"people": paths["people"], "events": paths["events"]}, tmp_path / "ds")
    got = {(r.person_id, str(r.as_of.date())): r.label for r in ds.read("outcomes").itertuples()}
    assert got[("c2", "2024-02-01")] == 1 and got[("c1", "2024-02-01")] == 0


@pytest.mark.parametrize(("extra", "field"), [
    ("as_of = 2024-02-01", "as_of"),  # both a date and dates
    ("bad_when = []", "bad_when"),
])
def test_labels_from_events_need_their_dates_and_a_definition_of_bad(extra, field):
    with pytest.raises(SpecError, match=f"field 'outcomes.{field}'"):
        _spec(extra)
    with pytest.raises(SpecError, match="bad_days_late applies to labels told from the events"):
        spec_from_toml(SPEC.format(format="").replace("window_days = 180", "window_days = 180\nbad_days_late = 90"))


def test_bad_days_late_alone_is_the_whole_definition_of_bad():
    """A modeller who writes only `bad_days_late = 90` means 90 days past due, not any broken commitment."""
    assert _spec("bad_days_late = 90").outcomes.bad_when == []
    assert _spec("bad_days_late = 90\nbad_when = [\"broken\"]").outcomes.bad_when == ["broken"]
    assert _spec().outcomes.bad_when == ["broken"]


def test_people_already_bad_before_the_date_can_be_left_out(tmp_path):
    """c2 bounced on 02-03: at 03-01 that was 27 days before, so a 30-day exclusion leaves c2 out there,
    and a 20-day one labels c2 (good: nothing bad after 03-01)."""
    paths = write_files(tmp_path / "shop", False)
    events = pd.read_csv(paths["events"], dtype=str)
    extra = pd.DataFrame({"customer": ["c2"], "booked_at": ["2024-01-20"], "type": ["invoice"], "value": ["10"],
                          "state": ["settled"]})
    pd.concat([events, extra]).to_csv(paths["events"], index=False)

    def labels(days: int) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = ingest_with_spec(_spec(f"exclude_bad_in_last_days = {days}"),
                                  {"people": paths["people"], "events": paths["events"]}, tmp_path / f"ds{days}")
        return {(r.person_id, str(r.as_of.date())): r.label for r in ds.read("outcomes").itertuples()}

    with pytest.warns(UserWarning, match="1 .person, as-of date. pairs left out"):
        ingest_with_spec(_spec("exclude_bad_in_last_days = 30"),
                         {"people": paths["people"], "events": paths["events"]}, tmp_path / "warned")
    thirty = labels(30)
    assert thirty[("c2", "2024-02-01")] == 1 and ("c2", "2024-03-01") not in thirty
    assert labels(20)[("c2", "2024-03-01")] == 0


def test_the_exclusion_applies_to_labels_told_from_the_events_only():
    with pytest.raises(SpecError, match="exclude_bad_in_last_days applies to labels told from the events"):
        spec_from_toml(SPEC.format(format="").replace("window_days = 180",
                                                      "window_days = 180\nexclude_bad_in_last_days = 30"))
