"""The book's Sphinx source, assembled from what ``make figures`` left for one profile.

    <source>/conf.py, references.bib, _static/      from companion/book/site/
    <source>/_static/mathjax/                       MathJax 2.7.9 (jupyter-server-mathjax), for offline math
    <source>/index.md                               landing page: the claims scoreboard (``claims.md``)
    <source>/notebooks/<wing>/<name>.ipynb          the executed notebooks, parameter cells folded
    <source>/figures/...                            the published figures and tables (linked as downloads)

Inputs: ``paths.executed_dir(profile)`` (papermill's executed copies) and the profile's published tree
(``figures/`` for default), both written by :mod:`companion.run`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jupyter_server_mathjax

from companion import claims

SITE = Path(__file__).resolve().parent / "site"
MATHJAX = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
# MathJax's speech extensions fetch their engine from a CDN; the book loads nothing from the network
# (the math menu, the only way to turn them on, is off in conf.py).
MATHJAX_LEFT_OUT = ("mathjax-sre.js", "semantic-enrich.js", "wgxpath.install.js", "mathmaps", "explorer.js")
PAPERS = {"jcra": "JCRA", "multiwrite": "MultiWrite"}
CITATIONS = {"jcra": "yu2023jcra", "multiwrite": "xu2026multiwrite"}
FOLDED_TAGS = ("parameters", "injected-parameters")  # set-up cells a reader opens on demand
COPIED_SUFFIXES = {".png", ".pdf", ".csv", ".md", ".json"}


class BookError(ValueError):
    """Nothing to render, or an input the book cannot read."""


@dataclass(frozen=True)
class Notebook:
    """One executed notebook: ``name`` as the pipeline calls it (``jcra/02_train_eval``) and its file."""

    name: str
    executed: Path

    @property
    def paper(self) -> str:
        return PAPERS.get(self.name.split("/")[0], "Companion") if "/" in self.name else "Companion"

    @property
    def document(self) -> str:
        """The page's Sphinx document name."""
        return f"notebooks/{self.name}"


def executed_notebooks(executed_dir: Path, profile: str) -> list[Notebook]:
    """Every executed notebook, or :class:`BookError` saying which ``make figures`` to run first."""
    found = (
        sorted(p for p in executed_dir.rglob("*.ipynb") if not p.name.startswith(".")) if executed_dir.is_dir() else []
    )

    if not found:
        first = "make figures" if profile == "default" else f"make figures PROFILE={profile}"
        raise BookError(
            f"nothing to render: no executed notebooks under {executed_dir}. Run `{first}` first, then "
            f"`make book{'' if profile == 'default' else f' PROFILE={profile}'}` "
            "(`make figures PROFILE=smoke` then `make book PROFILE=smoke` is the quick way to try it)."
        )
    return [Notebook(str(p.relative_to(executed_dir).with_suffix("")), p) for p in found]


def fold_setup_cells(notebook: dict) -> dict:
    """Tag the parameter cells ``hide-input``: the page shows them behind a toggle."""
    for cell in notebook["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(tag in tags for tag in FOLDED_TAGS) and "hide-input" not in tags:
            tags.append("hide-input")
    return notebook


def claims_note(records: list[claims.ClaimRecord]) -> str:
    """A Markdown note listing the verdicts a notebook recorded (shown under its title)."""
    lines = [f"- **{r.claim_id}**: *{r.verdict}*. {r.reason}" for r in records]
    return "```{admonition} Claims recorded by this run\n:class: note\n" + "\n".join(lines) + "\n```\n"


def _with_claims_note(notebook: dict, records: list[claims.ClaimRecord]) -> dict:
    if records:
        cell = {"cell_type": "markdown", "id": "book-claims", "metadata": {}, "source": claims_note(records)}
        first_markdown = next((i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "markdown"), -1)
        notebook["cells"].insert(first_markdown + 1, cell)
    return notebook


def landing_page(scoreboard_markdown: str | None, notebooks: list[Notebook], profile: str) -> str:
    """``index.md``: the scoreboard, its links pointing into the book, then the papers and the contents."""
    names = {nb.name for nb in notebooks}
    body = scoreboard_markdown or "# Claims scoreboard\n\nThe scoreboard notebook `00_claims` has not run yet.\n"
    title, _, rest = body.partition("\n")
    rest = re.sub(r"\]\((?![a-z]+://|#)([^)]+)\)", r"](figures/\1)", rest)  # claims.md links are relative to figures/
    rest = re.sub(
        r"`([\w./-]+)`", lambda m: f"[{m[1]}](notebooks/{m[1]}.ipynb)" if m[1] in names else m[0], rest
    )  # notebook names become links to their pages
    intro = (
        f"\nThe executed notebooks of the last `make figures` (profile **{profile}**) beside the two papers "
        f"they rebuild: JCRA {{cite:p}}`{CITATIONS['jcra']}` and MultiWrite {{cite:p}}`{CITATIONS['multiwrite']}`. "
        "Every figure sits in its notebook where it is made; every number was printed by the run.\n"
    )
    groups: dict[str, list[Notebook]] = {}
    for nb in notebooks:
        groups.setdefault(nb.paper, []).append(nb)
    toctrees = "".join(
        f"\n```{{toctree}}\n:caption: {paper}\n:hidden:\n\n" + "\n".join(nb.document for nb in members) + "\n```\n"
        for paper in [*PAPERS.values(), "Companion"]
        if (members := groups.get(paper))
    )
    references = "\n## References\n\n```{bibliography}\n```\n"
    wide = "---\nhtml_theme.sidebar_secondary.remove: true\n---\n"  # the scoreboard table needs the width
    return f"{wide}{title}\n{intro}{rest}\n{references}{toctrees}"


def copy_figures(figures_root: Path, target: Path) -> int:
    """Copy the published outputs (not the runner's hidden state or staging folders); return the count."""
    count = 0
    for path in sorted(figures_root.rglob("*")) if figures_root.is_dir() else []:
        relative = path.relative_to(figures_root)
        if not path.is_file() or path.suffix not in COPIED_SUFFIXES or any(p.startswith(".") for p in relative.parts):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        count += 1
    return count


def write_source(source: Path, executed_dir: Path, figures_root: Path, profile: str) -> list[Notebook]:
    """Fill ``source`` (an empty folder) with the Sphinx project; return the notebooks it holds."""
    notebooks = executed_notebooks(executed_dir, profile)
    shutil.copytree(SITE, source, dirs_exist_ok=True)
    shutil.copytree(MATHJAX, source / "_static" / "mathjax", ignore=shutil.ignore_patterns(*MATHJAX_LEFT_OUT))
    records = claims.collect_records(figures_root) if figures_root.is_dir() else []
    for nb in notebooks:
        try:
            notebook = json.loads(nb.executed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise BookError(f"{nb.executed}: not a readable executed notebook ({error})") from error
        notebook = _with_claims_note(fold_setup_cells(notebook), [r for r in records if r.notebook == nb.name])
        target = source / f"{nb.document}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    copy_figures(figures_root, source / "figures")
    scoreboard = figures_root / "claims.md"
    markdown = scoreboard.read_text(encoding="utf-8") if scoreboard.exists() else None
    (source / "index.md").write_text(landing_page(markdown, notebooks, profile), encoding="utf-8")
    return notebooks
