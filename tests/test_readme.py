"""README's commands and CI stay in step."""

from __future__ import annotations

import re

from conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    test_commands = [c for c in _commands() if "pytest" in c]
    assert test_commands, "README.md has no test command"
    assert test_commands[0].strip() in ci


def test_readme_setup_pins_torch_through_constraints() -> None:
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text()
    for command in _commands()[:2]:
        assert "-c constraints.txt" in command
