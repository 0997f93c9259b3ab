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
        "Exit codes: 0 success, 1 failure, 2 usage error. Every error is one line on stderr (`build"
        " --strict` lists each missing reference on a line of its own before it).",
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
        if isinstance(command, click.Group):  # `skewguard release list|activate|retire`
            for sub_name in sorted(command.commands):
                leaf = command.commands[sub_name]
                leaf_context = click.Context(
                    leaf, info_name=sub_name, parent=sub, terminal_width=100, max_content_width=100
                )
                help_text = leaf.get_help(leaf_context)
                lines += [f"### skewguard {name} {sub_name}", "", "```text", help_text, "```", ""]
    return "\n".join(lines)


def settings_reference() -> str:
    lines = [
        "# Settings reference",
        "",
        "Generated from `skewguard.settings.Settings` by `scripts/gen-docs.py`; a test keeps it current.",
        "",
        'Give them as keyword arguments (`Skewguard(static_root="dist")`, any case) or as environment',
        "variables `SKEWGUARD_<NAME>`. Keyword arguments win over the environment, which wins over",
        "the defaults. An invalid value stops start-up with one line naming the setting. Booleans",
        "from the environment are `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.",
        "",
        "- **Django** (`skewguard.contrib.django`): `SECRET_KEY`, `STATIC_URL`, `STATIC_ROOT`,",
        "  `STATICFILES_DIRS` (as `STATIC_DIRS`) and `DEBUG` come from Django's own settings (with",
        "  `DEBUG = True`, `SERVE_STATIC` is off: `runserver` serves `/static/`); `APP_VERSION`,",
        "  `APP_VERSION_HEADER`, `APP_VERSION_MISMATCH`, `VERSION_ENDPOINT` and",
        "  `STATIC_DEV_VERSION_QUERY` are read under their plain names; any other in",
        '  `SKEWGUARD = {"NAME": value}`. All of these count as keyword arguments.',
        "- **Flask** (`skewguard.contrib.flask`): from `app.config`, any setting as",
        "  `SKEWGUARD_<NAME>`, and the same five plain names plus `SECRET_KEY`; the extension's own",
        "  keyword arguments (`Skewguard(app, static_root=...)`) win.",
        "- **Litestar**: `SkewguardPlugin(static_root=..., ...)` takes keyword arguments, or a",
        "  `Skewguard` object made beforehand.",
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
