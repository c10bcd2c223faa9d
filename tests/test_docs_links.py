"""The manual's pointers hold: every relative link in README.md, BENCHMARKS.md and docs/ reaches a
file (and a heading, for #anchor), every `file.md "Heading"` pointer in the docs, the shipped sets'
and mappings' comments and the code's messages names a heading that is there, and a comment of a
shipped set never points at a README section (the README is the short road in; docs/ the manual)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
POINTER = re.compile(r"([\w/.-]+\.md),? ?[\"']([^\"']+)[\"']")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # a # in a code block is a comment
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)]


def _find(name: str, near: Path) -> Path | None:
    for base in (near.parent, ROOT, ROOT / "docs"):
        if (base / name).is_file():
            return (base / name).resolve()
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_a_file_and_a_heading(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        name, _, anchor = target.partition("#")
        path = (page.parent / name).resolve() if name else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in {slug(h) for h in headings(path)}:
            broken.append(f"{target}: no heading #{anchor} in {path.name} ({', '.join(slug(h) for h in headings(path))})")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def _pointer_sources():
    files = PAGES + sorted((ROOT / "sets").glob("*.toml")) + sorted((ROOT / "mappings").rglob("*.toml"))
    return files + sorted((ROOT / "vj").rglob("*.py"))


def test_every_file_and_heading_pointer_is_there():
    broken = []
    for source in _pointer_sources():
        for name, heading in POINTER.findall(source.read_text()):
            page = _find(name, source)
            if page is None:
                broken.append(f"{source.relative_to(ROOT)}: {name}: no such file")
            elif heading not in headings(page) and slug(heading) not in {slug(h) for h in headings(page)}:
                broken.append(f"{source.relative_to(ROOT)}: {name} has no heading {heading!r}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("toml", sorted((ROOT / "sets").glob("*.toml")), ids=lambda p: p.name)
def test_a_shipped_sets_comments_point_into_the_manual(toml):
    comments = [line.split("#", 1)[1] for line in toml.read_text().splitlines() if "#" in line]
    wrong = [c.strip() for c in comments if re.search(r"\bREADME\b", c)]
    assert not wrong, f"{toml.name}: comments pointing at the README (point at docs/<page>.md): {wrong}"
    for c in comments:
        for name in re.findall(r"\b([\w/-]+\.md)\b", c):
            assert _find(name, toml), f"{toml.name}: {name} is not there"


def test_the_annotated_set_of_docs_sets_md_passes_the_check_in_a_folder_of_its_own(tmp_path):
    """Copied out of the manual into an empty folder, it plays: its sound track is a shipped one."""
    from helpers import vj

    example = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "sets.md").read_text(), re.S)
    (tmp_path / "annotated.toml").write_text(example.group(1))
    r = vj("check", str(tmp_path / "annotated.toml"))
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
