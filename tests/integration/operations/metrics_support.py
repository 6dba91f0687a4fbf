"""Reading a /metrics answer in the tests of the operations tooling."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.services import RunningService

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and label set."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def metric_names(text: str) -> set[str]:
    """Family names and the sample names (``_bucket``, ``_count``, ``_total``) they carry."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


async def scrape(svc: RunningService) -> tuple[str, Samples]:
    response = await svc.client.get("/metrics")
    assert response.status_code == 200
    return response.text, parse(response.text)
