"""Citations in the repository point at things a contributor can open.

The design and the reference specifications the project was written from live outside the repository, so no
tracked text file may cite them (their file names, the shared reference folder, or a "§N" section of them); code
cites the project's own docs (docs/*.md, README.md) or the original paper / repository file instead. Every
`docs/X.md` a file names must exist, and a quoted section (`docs/moda.md, "Fixes" #9`, `README.md, "GPU install"`)
must be a heading or a bold lead-in of that document.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THIS_FILE = "tests/test_docs.py"  # its examples name what the checks forbid; it is left out of the scans

_SPEC_NAMES = "|".join(["ernerf", "moda", "field", "install", "talkinggaussian"])
SPEC_CITATION = re.compile(
    r"(?<![\w/.-])(?<!\]\()(?:" + _SPEC_NAMES + r")\.md\b"  # a bare spec name; docs/moda.md and ](moda.md) are fine
    r"|\bD[E]SIGN\.md\b"
    r"|\bshared/" + r"reference\b"
)
SECTION_SIGN = "\u00a7"
DOC_PATH = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)\b")
SECTION_CITATION = re.compile(r"(?<![\w/.-])((?:docs/)?[\w.-]+\.md),\s*\"([^\"]+)\"")


@cache
def repo_text_files() -> dict[str, str]:
    """Tracked and untracked-but-not-ignored text files but this one (path relative to the repo → content)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    texts = {}
    for name in filter(None, listed.split("\0")):
        if name == THIS_FILE:
            continue
        path = REPO / name
        if not path.is_file():  # deleted in the work tree but still in the index
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def _joined(text: str) -> str:
    """Text with line breaks (and a continuation's indentation or comment marker) folded to one space."""
    return re.sub(r"[ \t]*\n[ \t]*(?:#+[ \t]*)?", " ", text)


def _anchors(doc: str) -> list[str]:
    """Headings and bold lead-ins of a markdown document, case-folded, whitespace collapsed."""
    found = [line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("#")]
    found += re.findall(r"\*\*([^*]+)\*\*", doc)
    return [" ".join(a.split()).casefold() for a in found]


def test_repo_files_are_listed() -> None:
    files = repo_text_files()
    assert "README.md" in files and "tests/conftest.py" in files and THIS_FILE not in files


def test_no_citation_of_specifications_outside_the_repository() -> None:
    offending = []
    for name, text in repo_text_files().items():
        for number, line in enumerate(text.splitlines(), 1):
            cites_spec = SPEC_CITATION.search(line)
            # "§" is fine for a paper's section ("the paper, §3.2"), never for a spec's
            bare_section = SECTION_SIGN in line and not re.search(r"paper|arxiv", line, re.IGNORECASE)
            if cites_spec or bare_section:
                offending.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not offending, (
        "cite docs/*.md or the original paper / repository file instead of specifications that are not in the "
        "repository:\n" + "\n".join(offending)
    )


def test_cited_docs_exist() -> None:
    files = repo_text_files()
    missing = sorted(
        f"{name}: docs/{doc}"
        for name, text in files.items()
        for doc in DOC_PATH.findall(_joined(text))
        if not (REPO / "docs" / doc).is_file()
    )
    assert not missing, "cited documents that do not exist:\n" + "\n".join(missing)


def test_cited_sections_exist() -> None:
    files = repo_text_files()
    missing = []
    for name, text in files.items():
        for doc, section in SECTION_CITATION.findall(_joined(text)):
            if doc != "README.md" and not doc.startswith("docs/"):
                continue
            path = REPO / doc
            if not path.is_file():
                continue  # reported by test_cited_docs_exist
            wanted = " ".join(section.split()).casefold()
            if not any(wanted in anchor for anchor in _anchors(path.read_text(encoding="utf-8"))):
                missing.append(f'{name}: {doc}, "{section}"')
    assert not missing, "cited sections with no such heading:\n" + "\n".join(sorted(set(missing)))


def test_the_checks_catch_what_they_should() -> None:
    spec = "moda" + ".md"
    assert SPEC_CITATION.search(f"FaCo-Net ({spec} {SECTION_SIGN}4)")
    assert SPEC_CITATION.search("layout (" + "DESIGN" + ".md §3)")
    assert SPEC_CITATION.search("see shared/" + "reference/install.md")
    assert not SPEC_CITATION.search(f'FaCo-Net (docs/{spec}, "FaCo-Net")')
    assert not SPEC_CITATION.search(f"[docs/evaluation.md](evaluation.md), [x]({spec})")
    assert DOC_PATH.findall(_joined('(docs/moda.md,\n    "Fixes" #2)')) == ["moda.md"]
    assert SECTION_CITATION.findall(_joined('(docs/moda.md, "Network\n    shapes")')) == [
        ("docs/moda.md", "Network shapes")
    ]
    assert "fixes: what differs from the public code" in _anchors("## Fixes: what differs from the public code\n")
