"""``/metrics`` in the Prometheus text format (``pip install 'skewguard[metrics]'``).

Counters and the convergence histogram are prometheus-client metrics: under gunicorn or uvicorn
workers set ``PROMETHEUS_MULTIPROC_DIR`` and every worker's values are summed at scrape time.
The tab gauges are read from the recorder when scraped, so they are what the recorder sees:
the fleet (Redis), the machine (file registry) or this process (no registry). With Redis every
server reports the same fleet-wide gauges: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from .heartbeat import REASONS
from .report import TabsReport

# Seconds from "a newer release exists" to "this tab runs it": from seconds (an idle tab) to
# hours (a long call, a tab left in the background).
CONVERGENCE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


class _TabGauges(Collector):
    def __init__(self, report: Callable[[], TabsReport]) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        report = self._report()
        live = GaugeMetricFamily(
            "skewguard_live_tabs",
            "Open tabs per release (beat within the window)",
            labels=["release"],
        )
        stale = GaugeMetricFamily(
            "skewguard_stale_tabs", "Tabs that know a newer release exists", labels=["release"]
        )
        held = GaugeMetricFamily(
            "skewguard_held_tabs", "Tabs held by a guard, per reason", labels=["release", "reason"]
        )
        for release in report.releases:
            live.add_metric([release.version], release.live)
            stale.add_metric([release.version], release.stale)
            held.add_metric([release.version, "any"], release.held)
            for reason in REASONS:
                held.add_metric([release.version, reason], release.reasons.get(reason, 0))
        dropped = GaugeMetricFamily(
            "skewguard_dropped_beats",
            "Beats within the window not counted (unknown release or tab cap reached)",
            value=report.dropped,
        )
        up = GaugeMetricFamily(
            "skewguard_telemetry_up",
            "1 when the tab recorder's backend answered this scrape",
            value=1 if report.available else 0,
        )
        yield from (live, stale, held, dropped, up)


class Metrics:
    """The process's counters, and the exposition of them plus the tab gauges."""

    def __init__(self, report: Callable[[], TabsReport]) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # Multiprocess mode: values live in the shared directory, not in a registry.
        own = None if self.multiprocess else CollectorRegistry(auto_describe=True)
        self._own = own
        self.conflicts = Counter(
            "skewguard_conflicts", "Inertia 409s sent (a stale page told to reload)", registry=own
        )
        self.holds = Counter(
            "skewguard_holds_honoured",
            "Requests answered normally instead of a 409 because the page was held",
            registry=own,
        )
        self.busts = Counter("skewguard_busts", "Successful cache busts", registry=own)
        self.chunk_errors = Counter(
            "skewguard_chunk_errors", "Chunk-load failures reported by tabs", registry=own
        )
        self.convergence = Histogram(
            "skewguard_convergence_seconds",
            "How long a tab ran an older release before it converged",
            buckets=CONVERGENCE_BUCKETS,
            registry=own,
        )
        self._gauges = _TabGauges(report)

    def exposition(self) -> tuple[bytes, str]:
        registry = CollectorRegistry(auto_describe=True)
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            assert self._own is not None
            registry.register(_Forward(self._own))
        registry.register(self._gauges)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
