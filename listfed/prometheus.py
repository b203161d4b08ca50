"""/metrics in Prometheus's text format, written by the prometheus-client package from
metric families that ops/metrics.py reads off the database (plain data here, so that
the operations never import the exposition library)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class Sample:
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[Sample] = field(default_factory=list)


class _Snapshot:
    """A collector that yields families read once, for one scrape."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            names = [k for k, _ in family.samples[0].labels] if family.samples else []
            made: CounterMetricFamily | GaugeMetricFamily
            if family.kind == "counter":
                made = CounterMetricFamily(family.name, family.help, labels=names)
            else:
                made = GaugeMetricFamily(family.name, family.help, labels=names)
            for sample in family.samples:
                made.add_metric([v for _, v in sample.labels], sample.value)
            yield made


def render(families: Iterable[Family]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry)
