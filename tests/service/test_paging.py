"""One paging mechanism for every list held newest first (schemas.Page): a page's numbers and its four fields."""

from __future__ import annotations

import pytest

from deepcredit.service.schemas import AlertsOut, Page, PersonReport


@pytest.mark.parametrize(("held", "asked", "size", "page", "pages", "start"), [
    (0, 1, 50, 1, 1, 0), (0, 9, 50, 1, 1, 0), (50, 2, 50, 1, 1, 0), (51, 2, 50, 2, 2, 50),
    (25, 2, 20, 2, 2, 20), (25, 99, 20, 2, 2, 20), (25, 0, 20, 1, 2, 0)])
def test_a_page_is_held_within_the_pages(held, asked, size, page, pages, start):
    p = Page.of(held, asked, size)
    assert (p.page, p.pages, p.start) == (page, pages, start)


def test_the_fields_number_the_page_as_every_list_declares_them():
    p = Page.of(25, 2, 20)
    assert p.fields("alerts", 5) == {"alerts_held": 25, "alerts_page": 2, "alerts_pages": 2, "alerts_first": 21}
    assert Page.of(0, 1, 20).fields("events", 0)["events_first"] == 0
    for model, name in ((AlertsOut, "alerts"), (PersonReport, "events"), (PersonReport, "accesses")):
        assert set(p.fields(name, 1)) <= set(model.model_fields)
