"""Tests for weblog.form: the filter form's fields and menus."""

from __future__ import annotations

from twisted.trial import unittest
from twisted.web.template import flattenString

from weblog.form import FilterForm
from weblog.selection import Selection


def rendered(selection: Selection) -> str:
    """The form of C{selection}, as HTML."""
    found: list[bytes] = []
    flattenString(None, FilterForm(selection, "/weblog.rpy")).addCallback(found.append)
    return found[0].decode("utf-8")


class FilterFormTests(unittest.TestCase):
    """The form offers every value a parameter takes, and shows the selection's."""

    def test_botsOnly(self) -> None:
        """bots=only, crawlers alone, is offered, and chosen when the view has it."""
        html = rendered(Selection(bots="only"))
        self.assertIn('<option value="include">include</option>', html)
        self.assertIn('<option value="only" selected="selected">only</option>', html)
        self.assertNotIn('<option value="exclude" selected', rendered(Selection(bots="only")))
