# -*- test-case-name: tests.test_pages -*-
"""
The filter form of the weblog pages: submitting it makes the bookmarkable URL of a view.

Plain HTML, no script: it is sent to the page's own path, with the page's
parameters as its fields; on the page of a history view its hidden fields keep
the window and the filters, so that submitting it changes the rest of the view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from twisted.web.iweb import IRequest
from twisted.web.template import Element, Tag, XMLString, renderer, tags

from weblog.render import T
from weblog.selection import BOTS, MAX_LIMIT, Selection

__all__ = ["CHOICES", "FilterForm"]

CHOICES = {"referrer": ("required", "any"), "bots": BOTS,
           "own": ("hide", "show")}
"""The values of the form's menus, by parameter."""


class FilterForm(Element):
    """The filter form: submitting it makes the bookmarkable URL of a view."""

    loader = XMLString(
        f'<form {T} method="get" aria-label="Filter the hits" t:render="form">'
        '<t:transparent t:render="hidden" />'
        '<label>Status <input name="status" size="4" t:render="value" /></label>'
        '<label>Referrer <select name="referrer" t:render="choice" /></label>'
        '<label>Bots <select name="bots" t:render="choice" /></label>'
        '''<label>weblog's own hits <select name="own" t:render="choice" /></label>'''
        '<label>Contains <input name="q" type="search" t:render="value" /></label>'
        '<label>Rows <input name="limit" type="number" min="1" t:render="value">'
        '<t:attr name="max"><t:slot name="most" /></t:attr></input></label>'
        '<button type="submit">Show</button>'
        "</form>")

    def __init__(self, selection: Selection, base: str,
                 kept: Sequence[tuple[str, str]] = ()) -> None:
        """
        @param base: the page's own path (C{""} at the site's root).
        @param kept: (parameter, value) pairs the form sends as they are: a history
            view's window and filters.
        """
        super().__init__()
        self.selection = selection
        self.base = base
        self.kept = tuple(kept)

    @renderer
    def form(self, request: IRequest | None, tag: Tag) -> Tag:
        """The form, sent to the page's own path."""
        return tag(action=self.base or "/").fillSlots(most=str(MAX_LIMIT))

    @renderer
    def hidden(self, request: IRequest | None, tag: Tag) -> Iterator[Tag]:
        """A hidden field for each parameter the form keeps."""
        for name, value in self.kept:
            yield tags.input(type="hidden", name=name, value=value)

    @renderer
    def value(self, request: IRequest | None, tag: Tag) -> Tag:
        """A field holding the selection's value of the parameter it names."""
        return tag(value=str(getattr(self.selection, str(tag.attributes["name"]))))

    @renderer
    def choice(self, request: IRequest | None, tag: Tag) -> Tag:
        """A menu of the parameter's values, the selection's chosen."""
        name = str(tag.attributes["name"])
        current = getattr(self.selection, name)
        return tag([tags.option(value, value=value,
                                **({"selected": "selected"} if value == current else {}))
                    for value in CHOICES[name]])
