#!/usr/bin/env python3
"""Validates the Kubernetes manifests under deploy/k8s without a cluster.

Checks that every document parses and names its apiVersion, kind and metadata.name; that the
kustomization lists files that exist; that every container has an image and resource
requests (cpu, memory) and a memory limit; that every long-running container has a readiness
probe on /readyz and a liveness probe on /healthz, on a port it declares; that selectors match
their pod labels; and that every ConfigMap and Secret referenced is defined here.

Prints each problem with where it is and exits 1 if there is any.

Usage: .ci/validate-k8s.py [deploy/k8s]
"""

import pathlib
import sys

import yaml

LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
WORKLOADS = LONG_RUNNING | {"Job", "CronJob"}


class Report:
    def __init__(self):
        self.problems = []

    def add(self, where, message):
        self.problems.append(f"{where}: {message}")


def pod_spec(doc):
    spec = doc.get("spec") or {}
    if doc["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") or {}
    return template.get("spec") or {}, (template.get("metadata") or {}).get("labels") or {}


def port_names(container):
    ports = container.get("ports") or []
    return {p.get("name") for p in ports if p.get("name")} | {p.get("containerPort") for p in ports}


def check_probe(report, where, container, probe_name, path):
    probe = container.get(probe_name)
    if not probe:
        report.add(where, f"no {probe_name}")
        return
    http = probe.get("httpGet")
    if http is None:
        return
    if http.get("path") != path:
        report.add(where, f"{probe_name} should GET {path}, not {http.get('path')}")
    if http.get("port") not in port_names(container):
        report.add(where, f"{probe_name} port {http.get('port')!r} is not a declared container port")


def check_container(report, where, container, long_running, refs):
    if not container.get("image"):
        report.add(where, "no image")
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    for key in ("cpu", "memory"):
        if key not in requests:
            report.add(where, f"no resources.requests.{key}")
    if "memory" not in (resources.get("limits") or {}):
        report.add(where, "no resources.limits.memory")
    if long_running:
        check_probe(report, where, container, "readinessProbe", "/readyz")
        check_probe(report, where, container, "livenessProbe", "/healthz")
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            refs.append((where, "ConfigMap", source["configMapRef"].get("name")))
        if "secretRef" in source:
            refs.append((where, "Secret", source["secretRef"].get("name")))
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            refs.append((where, "Secret", value_from["secretKeyRef"].get("name")))
        if "configMapKeyRef" in value_from:
            refs.append((where, "ConfigMap", value_from["configMapKeyRef"].get("name")))


def check_workload(report, where, doc, refs, pods):
    spec, labels = pod_spec(doc)
    containers = spec.get("containers") or []
    if not containers:
        report.add(where, "no containers")
    selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels")
    if doc["kind"] in LONG_RUNNING:
        if not selector:
            report.add(where, "no spec.selector.matchLabels")
        elif any(labels.get(k) != v for k, v in selector.items()):
            report.add(where, "spec.selector.matchLabels does not match the pod template's labels")
    for container in containers + (spec.get("initContainers") or []):
        name = container.get("name", "?")
        check_container(report, f"{where}: container {name}", container, doc["kind"] in LONG_RUNNING, refs)
    pods.append((labels, containers))


def check_service(report, where, doc, pods):
    spec = doc.get("spec") or {}
    selector = spec.get("selector") or {}
    matching = [c for labels, c in pods if selector and all(labels.get(k) == v for k, v in selector.items())]
    if not matching:
        report.add(where, f"selector {selector} matches no pod template here")
        return
    declared = set().union(*(port_names(c) for containers in matching for c in containers))
    for port in spec.get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if target not in declared:
            report.add(where, f"targetPort {target!r} is not a port of the selected pods")


def check_kustomization(report, where, doc, directory):
    for resource in doc.get("resources") or []:
        if not (directory / resource).exists():
            report.add(where, f"resource {resource} does not exist")


def main():
    directory = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "deploy/k8s")
    files = sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"})
    report = Report()
    if not files:
        report.add(str(directory), "no manifests")
    defined, refs, pods, services, count = set(), [], [], [], 0
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError as error:
            report.add(str(path), f"does not parse: {error}")
            continue
        for index, doc in enumerate(docs):
            count += 1
            where = f"{path} (document {index + 1})"
            if not isinstance(doc, dict):
                report.add(where, "not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not doc.get(key):
                    report.add(where, f"no {key}")
            kind = doc.get("kind")
            if kind == "Kustomization":
                check_kustomization(report, where, doc, path.parent)
                continue
            name = (doc.get("metadata") or {}).get("name")
            if not name:
                report.add(where, "no metadata.name")
            where = f"{path} {kind}/{name}"
            defined.add((kind, name))
            if kind in WORKLOADS:
                check_workload(report, where, doc, refs, pods)
            elif kind == "Service":
                services.append((where, doc))
    for where, doc in services:
        check_service(report, where, doc, pods)
    for where, kind, name in refs:
        if (kind, name) not in defined:
            report.add(where, f"refers to {kind} {name!r}, which is not defined in {directory}")
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"{directory}: {len(report.problems)} problem(s)")
        return 1
    print(f"{directory}: valid ({count} documents in {len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
