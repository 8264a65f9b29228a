"""The documentation site builds, and the Python examples in its pages run.

Every ```` ```python ```` block of a page is run, in page order, in one fresh interpreter per
page (later blocks use the names of earlier ones) with the bundled data, as code typed into a
session (``python -c``, like a notebook) rather than as a script file. A block that is
illustrative only (it reads the user's files or trains for minutes) is marked as such in the
page, either by an HTML comment ``<!-- not run -->`` on the line before its fence or by a
``title="not run"`` in the fence line; those are skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

DOCS = REPO / "docs"
NOT_RUN = "<!-- not run -->"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```\s*$", flags=re.S | re.M)
#: Seconds one page's examples may take (tiny models, but CI machines are slow and shared;
#: plotting.md's trains on 2000 rows and scores 3000, minutes on 2 busy cores).
PAGE_TIMEOUT = 600

#: Pages whose examples are known to fail, with why. README.md is edited by hand elsewhere.
KNOWN_FAILURES: dict[str, str] = {}


def python_blocks(text: str) -> list[str]:
    """The runnable ```python blocks of a Markdown text, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        if NOT_RUN in before or "not run" in match.group(1):
            continue
        blocks.append(match.group(2))
    return blocks


def site_pages() -> list[Path]:
    """The Markdown pages of the site (API pages hold no code) and the README."""
    return [*sorted(DOCS.glob("*.md")), REPO / "README.md"]


def page_id(page: Path) -> str:
    return page.relative_to(REPO).as_posix() if page.name == "README.md" else page.name


def test_python_blocks_honour_the_not_run_mark() -> None:
    text = (
        "```python\na = 1\n```\n\n<!-- not run -->\n```python\nb = 2\n```\n"
        '```python title="not run"\nc = 3\n```\n```bash\nd\n```\n```python\ne = a\n```\n'
    )
    assert python_blocks(text) == ["a = 1\n", "e = a\n"]


RUNNABLE = [page for page in site_pages() if python_blocks(page.read_text())]


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            page,
            id=page_id(page),
            marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[page.name], strict=True)]
            if page.name in KNOWN_FAILURES
            else [],
        )
        for page in RUNNABLE
    ],
)
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    blocks = python_blocks(page.read_text())
    script = "\n".join(
        f"# --- block {i + 1} of {page.name}\n{block}" for i, block in enumerate(blocks)
    )
    program = tmp_path / "page.py"
    program.write_text("import torch\ntorch.set_num_threads(2)\n" + script)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "Agg",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    done = subprocess.run(
        # run as code typed into a session (a notebook, ``python -c``), not as a script file:
        # processes started by "spawn" (Dask's LocalCluster workers) import a script file's
        # top level again, which would re-run the whole page in each of them
        [
            sys.executable,
            "-c",
            f"exec(compile(open({program.name!r}).read(), {program.name!r}, 'exec'))",
        ],
        cwd=tmp_path,  # files the examples write land in the temporary folder
        env=env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    assert done.returncode == 0, f"{page.name}'s examples failed:\n{done.stderr[-3000:]}"


def test_site_builds_strictly(tmp_path: Path) -> None:
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs extra is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "estimators" / "index.html").exists()


def test_nav_lists_every_page() -> None:
    config = (REPO / "mkdocs.yml").read_text()
    for page in [*DOCS.glob("*.md"), *DOCS.glob("api/*.md")]:
        assert page.relative_to(DOCS).as_posix() in config, f"{page} is not in mkdocs.yml's nav"
