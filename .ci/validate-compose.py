#!/usr/bin/env python3
"""Validates docker-compose.yml without a Docker engine.

1. Against the Compose Specification JSON schema, with the draft its `$schema` names. The
   schema comes from the `check-jsonschema` PyPI package, which ships the Compose
   Specification's schema (`vendor/compose-spec.json`); `--schema FILE` uses another copy.
2. Cross-references the schema cannot see: every `depends_on` target is a service, every
   `service_healthy` target has a health check, every named volume is declared.

Prints each problem with its path and exits 1 if there is any.

Usage: .ci/validate-compose.py [docker-compose.yml] [--schema FILE]
"""

import argparse
import importlib.resources
import json
import sys

import jsonschema
import yaml


def load_schema(path):
    if path:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        sys.exit(
            "validate-compose: the Compose schema comes from the check-jsonschema package: "
            "python3 -m pip install check-jsonschema (or pass --schema FILE)"
        )
    return json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))


def where(path):
    return "/" + "/".join(str(part) for part in path) if path else "(top level)"


def schema_errors(document, schema):
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        yield where(error.absolute_path), error.message


def depends_on_targets(service):
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def reference_errors(document):
    services = document.get("services") or {}
    volumes = document.get("volumes") or {}
    for name, service in services.items():
        service = service or {}
        for target, condition in depends_on_targets(service).items():
            if target not in services:
                yield where(["services", name, "depends_on", target]), f"no service named {target!r}"
            elif condition == "service_healthy" and "healthcheck" not in (services[target] or {}):
                yield (
                    where(["services", name, "depends_on", target]),
                    f"waits for {target!r} to be healthy, but {target!r} has no healthcheck",
                )
        for index, mount in enumerate(service.get("volumes") or []):
            source = mount.get("source") if isinstance(mount, dict) else str(mount).split(":")[0]
            is_named = source and not source.startswith((".", "/", "~", "$"))
            if is_named and source not in volumes:
                yield where(["services", name, "volumes", index]), f"volume {source!r} is not declared under volumes"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compose_file", nargs="?", default="docker-compose.yml")
    parser.add_argument("--schema", help="a Compose Specification schema file")
    args = parser.parse_args()

    with open(args.compose_file, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        print(f"{args.compose_file}: not a YAML mapping")
        return 1

    problems = list(schema_errors(document, load_schema(args.schema)))
    problems += list(reference_errors(document))
    for path, message in problems:
        print(f"{args.compose_file}: {path}: {message}")
    if problems:
        print(f"{args.compose_file}: {len(problems)} problem(s)")
        return 1
    print(f"{args.compose_file}: valid ({len(document.get('services') or {})} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
