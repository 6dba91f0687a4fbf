"""The Prometheus scrape configuration, the alert rules and the Grafana dashboard name only
metrics the services really serve: running services are scraped and every metric an
expression references must be among their names. ``promtool`` checks the files as well when
it is installed (Debian package ``prometheus``); the name check never depends on it."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.alerting.bootstrap import definition as alerting_definition
from services.publication.bootstrap import definition as publication_definition
from shared.settings import DEFAULT_PORTS, REPO_ROOT
from tests.conftest import Infra
from tests.services import running_service

pytestmark = pytest.mark.integration

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
GRAFANA = REPO_ROOT / "deploy" / "grafana"
# Series Prometheus writes itself for every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# The eighth service (tenancy) gets the next port.
PORTS = {**DEFAULT_PORTS, "tenancy": 8008}

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    # aggregation operators may stand before their grouping clause: sum by (x) (...)
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
}


def metrics_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r" \1 ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)\b(?!\s*\()", text):
        word = match.group(1)
        if word.lower() not in _KEYWORDS:
            names.add(word)
    return names


def test_metrics_in_reads_promql() -> None:
    assert metrics_in(
        'sum by (service, route) (rate(http_request_duration_seconds_count{status_class="5xx"}'
        "[5m])) > 0"
    ) == {"http_request_duration_seconds_count"}
    assert metrics_in(
        "increase(a_total[10m]) > 0 unless on (endpoint) increase(b_total[10m]) > 0"
    ) == {"a_total", "b_total"}
    assert metrics_in('histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b"}[5m])))') == {
        "x_bucket"
    }
    assert metrics_in("outbox_backlog > 100 and deriv(outbox_backlog[10m]) > 0") == {
        "outbox_backlog"
    }


def exported_names(text: str) -> set[str]:
    """Every series name an exposition can carry, also for a labelled family that has no
    sample yet (a counter nobody incremented)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}{s}" for s in ("_bucket", "_count", "_sum"))
    return names


@pytest.fixture(scope="module")
async def exported(infra: Infra) -> AsyncIterator[set[str]]:
    """The names alerting and publication serve (every service serves the platform ones;
    these two add the supervision and provincial-push gauges)."""
    names: set[str] = set()
    for name, make in (("alerting", alerting_definition), ("publication", publication_definition)):
        quiet = dataclasses.replace(make(), background=())
        async with running_service(infra, name, system="opsc", definition=quiet) as svc:
            await svc.client.get("/healthz")  # one HTTP sample
            response = await svc.client.get("/metrics")
            assert response.status_code == 200
            names |= exported_names(response.text)
    yield names


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_scrape_configuration_covers_every_service_port() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    housing = next(j for j in config["scrape_configs"] if j["job_name"] == "housing")
    assert housing["metrics_path"] == "/metrics"
    assert housing["honor_labels"] is True
    targets = {
        static["labels"]["service"]: static["targets"] for static in housing["static_configs"]
    }
    assert targets == {name: [f"127.0.0.1:{port}"] for name, port in PORTS.items()}


async def test_every_alert_rule_names_exported_metrics(exported: set[str]) -> None:
    rules = [
        rule for group in load_yaml(PROMETHEUS / "alerts.yml")["groups"] for rule in group["rules"]
    ]
    names = {rule["alert"] for rule in rules}
    # The conditions the operations issue asks to be alerted on.
    assert {
        "OutboxBacklogGrowing",
        "DeadLettersAppearing",
        "ConsumerDetached",
        "ProvincePushFailing",
        "ReadinessLost",
    } <= names
    assert len(names) == len(rules), "two rules with one name"
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = metrics_in(rule["expr"])
        assert used, rule["alert"]
        unknown = used - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} uses {sorted(unknown)}, which no service exports"


def test_promtool_accepts_the_configuration_and_the_rule_tests_when_installed() -> None:
    promtool = shutil.which("promtool")
    # Not a skip: the checks above ran without it; promtool is the stricter second opinion.
    if promtool is None:
        return
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        # The rules fire on the series of each case and stay quiet on the others.
        ["test", "rules", "alerts_test.yml"],
    ):
        done = subprocess.run(
            [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr


async def test_dashboard_panels_query_exported_metrics(exported: set[str]) -> None:
    datasource = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasource["datasources"][0]["uid"]
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "housing.yml")["providers"][0]
    assert provider["type"] == "file"
    dashboards = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert [d.name for d in dashboards] == ["housing-overview.json"]
    dashboard = json.loads(dashboards[0].read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    titles = " | ".join(p["title"] for p in panels)
    for needed in (
        "requests per second",
        "Latency p95 per route",
        "Outbox backlog",
        "Dead letters",
        "red",
    ):
        assert needed in titles, needed
    assert len({p["id"] for p in panels}) == len(panels)
    # The business gauges of the operations issue each have a panel: open red lights, overdue
    # stages, dead letters per queue, outbox backlog, push lag, pending notifications.
    charted = {name for p in panels for t in p["targets"] for name in metrics_in(t["expr"])}
    assert {
        "alerts_open",
        "stages_overdue",
        "dead_letters",
        "outbox_backlog",
        "province_push_oldest_unacked_seconds",
        "notifications_pending",
        "http_request_duration_seconds_bucket",
    } <= charted
    for panel in panels:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = metrics_in(target["expr"])
            assert used, (panel["title"], target["expr"])
            unknown = used - exported - PROMETHEUS_OWN
            assert not unknown, f"panel {panel['title']!r} uses {sorted(unknown)}"
    variable = dashboard["templating"]["list"][0]
    query = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"]["query"])
    assert query is not None and query.group(1) in exported and query.group(2) == "service"


async def test_rule_tests_feed_series_the_services_export(exported: set[str]) -> None:
    cases = load_yaml(PROMETHEUS / "alerts_test.yml")
    assert cases["rule_files"] == ["alerts.yml"]
    tested = {t["alertname"] for case in cases["tests"] for t in case["alert_rule_test"]}
    assert {
        "OutboxBacklogGrowing",
        "DeadLettersAppearing",
        "ConsumerDetached",
        "ProvincePushFailing",
        "ReadinessLost",
    } <= tested
    for case in cases["tests"]:
        for series in case["input_series"]:
            name = series["series"].split("{")[0]
            assert name in exported | PROMETHEUS_OWN, f"{case['name']}: {name}"
