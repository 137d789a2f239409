"""Check a built book: every local link and image resolves to a file (and to an id, for ``#fragments``),
and no page loads anything from the network.

Used by ``python -m companion.book`` after each build and by the tests, so a broken link fails
loudly instead of showing up in a reader's browser.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_REFERENCES = {("a", "href"), ("img", "src"), ("link", "href"), ("script", "src"), ("iframe", "src"), ("source", "src")}


class _Page(HTMLParser):
    """The references (tag, url) a page makes and the ids it defines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if (tag, name) in _REFERENCES and value is not None:
                self.references.append((tag, value))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def check_site(root: Path) -> tuple[list[str], list[str]]:
    """(broken, external) references of every HTML page under ``root``.

    ``broken`` lists local links whose file or ``#id`` is missing; ``external`` lists images,
    scripts and style sheets fetched from the network (a book must have none; plain links to
    papers are fine and not listed).
    """
    pages = {
        path.resolve(): _parse(path)
        for path in sorted(root.rglob("*.html"))
        if "_static" not in path.relative_to(root).parts  # theme template fragments, not pages
    }
    broken, external = [], []
    for path, page in pages.items():
        where = path.relative_to(root.resolve())
        for tag, url in page.references:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if parts.scheme or parts.netloc:
                if tag != "a":
                    external.append(f"{where}: <{tag}> {url}")
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{where}: <{tag}> {url} (no file {target.name})")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if parts.fragment not in ids and unquote(parts.fragment) not in ids:  # browsers try both
                    broken.append(f"{where}: <{tag}> {url} (no id {parts.fragment!r} in {target.name})")
    return broken, external
