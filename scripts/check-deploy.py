#!/usr/bin/env python3
"""Checks docker-compose.yml and deploy/ against the code: every HOOKPOST_* variable they
set exists in the configuration, every port matches the configured addresses, and every
Kubernetes manifest has what production needs. Run by the integration tests, which pass
the configuration's variable list in HOOKPOST_VARIABLES.

    HOOKPOST_VARIABLES=A,B,... check-deploy.py REPO_ROOT
"""
import glob
import json
import os
import sys

import yaml

root = sys.argv[1]
known = set(os.environ["HOOKPOST_VARIABLES"].split(","))
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def port_of(addr):
    return addr.rsplit(":", 1)[1]


def unknown_vars(names, where):
    for name in names:
        check(not name.startswith("HOOKPOST_") or name in known, f"{where}: {name} is not a configuration variable")


# docker-compose.yml
compose = yaml.safe_load(open(os.path.join(root, "docker-compose.yml")))
services = compose["services"]
for role in ("ingest", "worker", "scheduler"):
    svc = services[role]
    env = svc.get("environment", {})
    unknown_vars(env, f"docker-compose {role}")
    check(svc.get("command") == [role], f"docker-compose {role}: command is {svc.get('command')}")
    check(bool(svc.get("restart")), f"docker-compose {role}: no restart policy")
    # Every role serves /metrics and /readyz on its metrics address only (ingest too).
    port = port_of(env["HOOKPOST_METRICS_ADDR"])
    check(str(env.get("HOOKPOST_OPS_ON_API", "false")).lower() == "false", f"docker-compose {role}: HOOKPOST_OPS_ON_API puts /metrics on the public port")
    health = " ".join(svc.get("healthcheck", {}).get("test", []))
    check(f":{port}/readyz" in health, f"docker-compose {role}: healthcheck does not probe :{port}/readyz")
    check(port in [str(p) for p in svc.get("expose", [])], f"docker-compose {role}: port {port} not exposed")
    check(not any(str(p).endswith(f":{port}") for p in svc.get("ports", [])), f"docker-compose {role}: metrics port {port} published")
    if role == "ingest":
        http = port_of(env["HOOKPOST_HTTP_ADDR"])
        check(any(str(p).endswith(f":{http}") for p in svc.get("ports", [])), f"docker-compose ingest: port {http} not published")
    else:
        check("container_name" not in svc, f"docker-compose {role}: container_name prevents --scale")
redis_cmd = " ".join(services["redis"].get("command", []))
check("--appendonly yes" in redis_cmd.replace('"', ""), "docker-compose redis: AOF is off")

# Prometheus scrape targets use the same ports.
prom = json.dumps(yaml.safe_load(open(os.path.join(root, "deploy/prometheus/prometheus.yml"))))
http_port = port_of(services["ingest"]["environment"]["HOOKPOST_HTTP_ADDR"])
metrics_port = port_of(services["worker"]["environment"]["HOOKPOST_METRICS_ADDR"])
check(f"ingest:{metrics_port}" in prom, f"prometheus.yml does not scrape ingest:{metrics_port}")
check(f"ingest:{http_port}" not in prom, f"prometheus.yml scrapes the public API port ingest:{http_port}")
check(f'"port": {metrics_port}' in prom, f"prometheus.yml does not scrape workers on {metrics_port}")

# Kubernetes manifests.
docs = []
for path in sorted(glob.glob(os.path.join(root, "deploy/k8s/*.yaml"))):
    docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(open(path)) if d]
kinds = {}
for name, d in docs:
    kinds.setdefault(d["kind"], []).append(d)
    if d["kind"] in ("ConfigMap", "Secret"):
        data = (d.get("data") or {}) | (d.get("stringData") or {})
        unknown_vars(data, f"{name} {d['kind']}")
        check(str(data.get("HOOKPOST_OPS_ON_API", "false")).lower() == "false", f"{name}: HOOKPOST_OPS_ON_API puts /metrics on the public port")
deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
for role in ("ingest", "worker", "scheduler"):
    dep = deployments.get(f"hookpost-{role}")
    check(dep is not None, f"k8s: no Deployment hookpost-{role}")
    if not dep:
        continue
    spec = dep["spec"]["template"]["spec"]
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/port") == metrics_port, f"k8s {role}: not scraped on the metrics port {metrics_port}")
    for c in spec["containers"]:
        check(c.get("args") == [role] or c.get("command", [])[-1:] == [role], f"k8s {role}: does not run `hookpost {role}`")
        ready = c.get("readinessProbe", {}).get("httpGet", {})
        check(ready.get("path") == "/readyz", f"k8s {role}: no /readyz readiness probe")
        named = {p.get("name"): str(p.get("containerPort")) for p in c.get("ports", [])}
        check(str(named.get(ready.get("port"), ready.get("port"))) == metrics_port, f"k8s {role}: /readyz not probed on the metrics port {metrics_port}")
        check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"k8s {role}: no /healthz liveness probe")
        check("requests" in c.get("resources", {}), f"k8s {role}: no resource requests")
        check(any("configMapRef" in e for e in c.get("envFrom", [])), f"k8s {role}: settings not from the ConfigMap")
        for port in [http_port, metrics_port] if role == "ingest" else [metrics_port]:
            check(any(str(p.get("containerPort")) == port for p in c.get("ports", [])), f"k8s {role}: container port {port} missing")
    pdbs = [p for p in kinds.get("PodDisruptionBudget", []) if p["metadata"]["name"] == f"hookpost-{role}"]
    check(len(pdbs) == 1, f"k8s {role}: no PodDisruptionBudget")
hpas = [h for h in kinds.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == "hookpost-worker"]
check(len(hpas) == 1, "k8s: no HorizontalPodAutoscaler for the workers")
check(len(kinds.get("ConfigMap", [])) >= 1, "k8s: no ConfigMap")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: compose, prometheus.yml and {len(docs)} Kubernetes objects agree with the code")
