"""A data set of several history files stores each file's rows by its own grace period and paid_kind; the
scoring service stores a reported outcome by the rules of its kind's file (Events.kind_rules), not by the
first file's."""

from __future__ import annotations

import sys
from pathlib import Path

from deepcredit.data.spec_events import KindRules

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from service.test_service_ledger_outcomes import _reported_and_replayed  # noqa: E402

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def test_a_reported_outcome_is_stored_by_its_own_files_grace_period(service, monkeypatch):
    """The merged [events] has 14 days' grace (its first file's); rentals come from a file with none (90
    days): a return 20 days late stays late, and a write-off is 91 days late, as ingest stored that file's
    rows. It was stored broken and 15 days late, by the first file's grace."""
    import deepcredit.service.events as events

    spec = service.world.data.spec
    assert spec.events is not None
    dated = spec.events.columns.model_copy(update={"days_late": None, "due_ts": "due", "settled_ts": "done"})
    merged = spec.events.model_copy(
        update={
            "columns": dated,
            "grace_days": 14,
            "kind_rules": {"rental": KindRules(grace_days=None, dated_by=["due_ts", "settled_ts"])},
        }
    )
    monkeypatch.setattr(events, "spec_of", lambda scorer: spec.model_copy(update={"events": merged}))
    pid, _, acme = service.decided()
    service.clock.advance(days=120)
    _reported_and_replayed(service, acme, pid, "rental_returned_late", {"l1": {"days_late": 20}})
    stored = _reported_and_replayed(service, acme, pid, "rental_not_returned", {"w1": {}})
    assert [(e.status, e.days_late) for e in stored] == [("returned_late", 20.0), ("not_returned", 91.0)]
