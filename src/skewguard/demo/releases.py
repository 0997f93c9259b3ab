"""The demo's sources, written anew for each release: only the accent colour and label change."""

from __future__ import annotations

import shutil
from pathlib import Path

ACCENTS = [
    ("#3b6cf6", "blue"),
    ("#e4572e", "vermilion"),
    ("#17a398", "teal"),
    ("#9b5de5", "violet"),
    ("#f3a712", "amber"),
]
ASSETS = Path(__file__).parent / "assets"


def write_release(src: Path, number: int) -> None:
    """Sources of release ``number`` into ``src``: the build hashes them into a new release."""
    accent, name = ACCENTS[number % len(ACCENTS)]
    (src / "css").mkdir(parents=True, exist_ok=True)
    (src / "img").mkdir(parents=True, exist_ok=True)
    (src / "js").mkdir(parents=True, exist_ok=True)
    for script in ("htmx.min.js", "demo.js"):
        shutil.copyfile(ASSETS / "js" / script, src / "js" / script)
    (src / "css" / "demo.css").write_text(
        CSS.replace("ACCENT", accent).replace("RELEASE", f"release {number} ({name})")
    )
    (src / "img" / "logo.svg").write_text(
        LOGO.replace("ACCENT", accent).replace("NUMBER", str(number))
    )


CSS = """\
:root { --accent: ACCENT; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1f2937; background: #fafaf9; }
header { display: flex; align-items: center; gap: 12px; padding: 12px 24px; background: var(--accent); color: #fff; }
header img { width: 40px; height: 40px; }
header nav a { color: #fff; margin-right: 12px; }
header .release::after { content: "RELEASE"; font-weight: 600; }
main { max-width: 980px; margin: 0 auto; padding: 16px 24px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; }
.card h2 { margin-top: 0; font-size: 1.1rem; color: var(--accent); }
button, .button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--accent);
  background: #fff; color: var(--accent); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary { background: var(--accent); color: #fff; }
.policies a { margin-right: 8px; }
.policies a.current { font-weight: 700; text-decoration: none; border-bottom: 2px solid var(--accent); }
video { width: 100%; max-width: 320px; background: #111; border-radius: 6px; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
dt { color: #6b7280; }
"""

LOGO = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#fff"/>\
<circle cx="20" cy="20" r="14" fill="ACCENT"/><text x="20" y="25" font-size="14" text-anchor="middle" fill="#fff" \
font-family="sans-serif">NUMBER</text></svg>
"""
