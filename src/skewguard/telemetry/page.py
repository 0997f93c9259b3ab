"""The status page: releases, their tabs, and a chart of live tabs per release, drawn here as
SVG (no script, no build step, works under the strictest CSP)."""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Any

from .heartbeat import REASONS

# Distinct on white and for the common colour-vision deficiencies (Okabe-Ito, with purple for
# black: text must never be mistaken for a series).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7f3c8d", "#f0e442")
WIDTH, HEIGHT, PAD = 760, 240, 40


def series_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch))


def chart_svg(document: dict[str, Any]) -> str:
    """Live tabs per release over the sampled history, plus the current counts as the last point;
    a dashed line marks each deploy (a release's registration) inside the range."""
    releases = [r["version"] for r in document["releases"]]
    points: list[tuple[float, dict[str, int]]] = [
        (float(h["at"]), h["live"]) for h in document.get("history", ())
    ]
    points.append((float(document["at"]), {r["version"]: r["live"] for r in document["releases"]}))
    start, end = points[0][0], points[-1][0]
    start = min(start, end - 600)  # at least ten minutes wide
    top = max([1] + [max(c.values(), default=0) for _, c in points])

    def x(t: float) -> float:
        return PAD + (t - start) / (end - start) * (WIDTH - 2 * PAD)

    def y(v: float) -> float:
        return HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="Live tabs per release" class="chart">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{PAD - 6}" y="{HEIGHT - PAD + 4}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11">{_clock(start)}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end" font-size="11">'
        f"{_clock(end)} UTC</text>",
    ]
    for entry in document["releases"]:
        created = _epoch(entry.get("created"))
        if created is not None and start <= created <= end:
            parts.append(
                f'<line class="deploy" x1="{x(created):.1f}" y1="{PAD}" x2="{x(created):.1f}" '
                f'y2="{HEIGHT - PAD}" stroke="#bbb" stroke-dasharray="4 3"/>'
            )
    for index, version in enumerate(releases):
        colour = series_colour(index)
        coords = [(x(t), y(c.get(version, 0))) for t, c in points if version in c or t == end]
        label = html.escape(version)
        if len(coords) == 1:
            cx, cy = coords[0]
            shape = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}"/>'
        else:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            shape = (
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="3"/>'
                f'<circle cx="{coords[-1][0]:.1f}" cy="{coords[-1][1]:.1f}" r="5" fill="{colour}"/>'
            )
        parts.append(f'<g class="series" data-release="{label}">{shape}</g>')
    parts.append("</svg>")
    return "".join(parts)


def _epoch(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _deployed(iso: object) -> str:
    epoch = _epoch(iso)
    return "–" if epoch is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "–"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def status_page(document: dict[str, Any], token: str = "") -> str:
    rows = []
    for index, r in enumerate(document["releases"]):
        reasons = ", ".join(f"{k} {r['reasons'][k]}" for k in REASONS if r["reasons"].get(k))
        conv = r["convergence"]
        converged = (
            f"{conv['count']} tab{'s' if conv['count'] != 1 else ''}: median {_seconds(conv['p50'])}, p90 {_seconds(conv['p90'])},"
            f" max {_seconds(conv['max'])}"
            if conv["count"]
            else "–"
        )
        rows.append(
            "<tr>"
            f'<td><span class="key" style="background:{series_colour(index)}"></span>'
            f"<code>{html.escape(r['version'])}</code></td>"
            f"<td>{html.escape(str(r.get('state', '')))}</td>"
            f"<td>{_deployed(r.get('created'))}</td>"
            f'<td class="n">{r["live"]}</td><td class="n">{r["stale"]}</td>'
            f'<td class="n">{r["held"]}</td><td>{html.escape(reasons) or "–"}</td>'
            f'<td class="n">{r["chunk_errors"]}</td><td>{converged}</td>'
            "</tr>"
        )
    refresh = html.escape(f"?token={token}" if token else "", quote=True)
    unavailable = (
        ""
        if document.get("available", True)
        else '<p class="warn">The tab recorder is unreachable: these numbers are not current.</p>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30; url={refresh}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skewguard status</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111;background:#fff}}
h1{{font-size:20px;margin:0 0 4px}} p{{margin:4px 0 16px;color:#444}}
table{{border-collapse:collapse;margin-top:16px}} th,td{{padding:6px 10px;border-bottom:1px solid #ddd;text-align:left}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}} .key{{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}}
.warn{{color:#a00}}
</style></head><body>
<h1>skewguard: live tabs</h1>
<p>Serving <code>{html.escape(document["current"])}</code>. A tab counts while it beat within the
last {document["window"]:.0f} s ({html.escape(document["backend"])} recorder);
{document["dropped"]} beats in the window were not counted. Dashed lines: deploys.</p>
{unavailable}
{chart_svg(document)}
<table><thead><tr><th>Release</th><th>State</th><th>Deployed</th><th>Live</th><th>Stale</th>
<th>Held</th><th>Held by</th><th>Chunk errors</th><th>Converged here</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
