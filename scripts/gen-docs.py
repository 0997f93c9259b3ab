"""Writes docs/cli.md and docs/settings.md from the code itself (the CLI's help, the Settings
dataclass). tests/test_docs.py fails when the committed files differ from this output."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from skewguard.cli import cli  # noqa: E402
from skewguard.settings import SETTING_DOCS, Settings  # noqa: E402


def cli_reference() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the CLI itself by `scripts/gen-docs.py`; a test keeps it current.",
        "Exit codes: 0 success, 1 failure, 2 usage error. Every error is one line on stderr.",
        "",
    ]
    context = click.Context(cli, info_name="skewguard", terminal_width=100, max_content_width=100)
    lines += ["## skewguard", "", "```text", cli.get_help(context), "```", ""]
    for name in sorted(cli.commands):
        command = cli.commands[name]
        sub = click.Context(
            command, info_name=name, parent=context, terminal_width=100, max_content_width=100
        )
        lines += [f"## skewguard {name}", "", "```text", command.get_help(sub), "```", ""]
    return "\n".join(lines)


def settings_reference() -> str:
    lines = [
        "# Settings reference",
        "",
        "Generated from `skewguard.settings.Settings` by `scripts/gen-docs.py`; a test keeps it current.",
        "",
        'Give them as keyword arguments (`Skewguard(static_root="dist")`, any case), as environment',
        "variables `SKEWGUARD_<NAME>`, or (Django) in `settings.py`. Keyword arguments win over the",
        "environment, which wins over the defaults. An invalid value stops start-up with one line",
        "naming the setting.",
        "",
        "| name | type | default | environment | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field in dataclasses.fields(Settings):
        default = field.default
        shown = f'`"{default}"`' if isinstance(default, str) else f"`{default}`"
        lines.append(
            f"| `{field.name}` | {field.type} | {shown} | `SKEWGUARD_{field.name}` | {SETTING_DOCS[field.name]} |"
        )
    return "\n".join(lines) + "\n"


OUTPUTS = {"docs/cli.md": cli_reference, "docs/settings.md": settings_reference}

if __name__ == "__main__":
    for path, render in OUTPUTS.items():
        (ROOT / path).write_text(render())
        print(f"wrote {path}")
