"""A rendered HTML page as the report tests read it: what it would load, its ids and tags,
its table cells' classes, its chart paths and its visible text."""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["Page", "parse"]

_LOADING_ATTRIBUTES = ("src", "href", "xlink:href", "data", "poster", "action", "srcset")
_INVISIBLE = ("style", "script", "title")


class Page(HTMLParser):
    """Resources the page would load, its ids, tag counts, cell classes, series paths, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self.ids: set[str] = set()
        self.tags: dict[str, int] = {}
        self.cells: list[str] = []
        self.svg_paths: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if "id" in values:
            self.ids.add(values["id"])
        for name in _LOADING_ATTRIBUTES:
            if values.get(name):
                self.loads.append(values[name])
        if tag == "link":
            self.loads.append(values.get("href") or "")
        if tag == "td":
            self.cells.append(values.get("class") or "")
        if tag == "path" and values.get("class") == "series":
            self.svg_paths.append(values.get("d") or "")
        if tag in _INVISIBLE:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in _INVISIBLE:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    @property
    def plain(self) -> str:
        """The visible text, whitespace collapsed."""
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page
