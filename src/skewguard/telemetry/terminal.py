"""``skewguard status`` in a terminal: one line per release and a sparkline of the last hour."""

from __future__ import annotations

from typing import Any

from .heartbeat import REASONS

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, round(v / top * (len(BARS) - 1)))] for v in values)


def last_hour(document: dict[str, Any], version: str) -> list[int]:
    """Live tabs of ``version`` in the once-a-minute samples of the last hour, then now."""
    cutoff = float(document["at"]) - 3600
    values = [int(h["live"].get(version, 0)) for h in document["history"] if h["at"] >= cutoff]
    live = next((r["live"] for r in document["releases"] if r["version"] == version), 0)
    return [*values, int(live)]


def render(document: dict[str, Any]) -> str:
    header = (
        f"{'RELEASE':<16} {'STATE':<12} {'LIVE':>6} {'STALE':>6} {'HELD':>6}  "
        f"{'HELD BY':<22} {'CHUNK ERR':>9}  {'CONVERGED (p50/p90)':<20} LAST HOUR"
    )
    lines = [header]
    for r in document["releases"]:
        reasons = ", ".join(f"{k} {r['reasons'][k]}" for k in REASONS if r["reasons"].get(k))
        conv = r["convergence"]
        converged = f"{conv['count']}: {conv['p50']:g}s/{conv['p90']:g}s" if conv["count"] else "-"
        lines.append(
            f"{r['version'][:16]:<16} {str(r.get('state', '')):<12} {r['live']:>6} "
            f"{r['stale']:>6} {r['held']:>6}  {reasons or '-':<22} {r['chunk_errors']:>9}  "
            f"{converged:<20} {sparkline(last_hour(document, r['version']))}"
        )
    note = (
        f"window {document['window']:.0f}s, {document['backend']} recorder, "
        f"{document['dropped']} beats not counted"
    )
    if not document.get("available", True):
        note += "; the recorder is UNREACHABLE: numbers are not current"
    lines.append(note)
    return "\n".join(lines)
