#!/usr/bin/env python3
"""Checks docker-compose.yml and deploy/ against the code: every HOOKPOST_* variable they
set exists in the configuration, every port matches the configured addresses, every
image is pinned, and every Kubernetes manifest has what production needs (probes,
resources, security context, network policies, monitoring, autoscaling). With
HOOKPOST_METRICS_FILE (a /metrics page of a running hookpost), every metric the
dashboard and the alert rules read must be exported, and every dashboard query must
parse (promtool, as recording rules). Run by the integration tests, which pass the
configuration's variable list in HOOKPOST_VARIABLES.

    HOOKPOST_VARIABLES=A,B,... [HOOKPOST_METRICS_FILE=FILE] check-deploy.py REPO_ROOT
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help") or "HOOKPOST_VARIABLES" not in os.environ:
    print(__doc__.strip())
    sys.exit(0 if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help") else 2)
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
for path in sorted(glob.glob(os.path.join(root, "deploy/k8s/**/*.yaml"), recursive=True)):
    name = os.path.relpath(path, os.path.join(root, "deploy/k8s"))
    docs += [(name, d) for d in yaml.safe_load_all(open(path)) if d]
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

# Images: an exact version (1.2.3 or v1.2.3, optionally -suffix; Debian: its point
# release, 12.9) or a digest, never a floating tag such as latest, 7 or 1-bookworm.
PINNED = re.compile(r"^[^:@\s]+(:v?\d+\.\d+(\.\d+)?(-[-.\w]+)?)?(@sha256:[0-9a-f]{64})?$")


def pinned(image, where):
    ok = PINNED.match(image) and (":" in image.rsplit("/", 1)[-1] or "@sha256:" in image)
    check(bool(ok), f"{where}: image {image} is not pinned to an exact version or digest")


for name, svc in services.items():
    if "image" in svc:
        pinned(svc["image"], f"docker-compose {name}")
dockerfile = open(os.path.join(root, "Dockerfile")).read()
args = dict(re.findall(r"^ARG (\w+)=(\S+)", dockerfile, re.M))
for image in re.findall(r"^FROM (\S+)", dockerfile, re.M):
    image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
    pinned(image, "Dockerfile FROM")
for name, d in docs:
    if d["kind"] == "Kustomization":
        for i in d.get("images", []):
            check("newTag" in i or "digest" in i, f"{name}: image {i['name']} has no tag")
for path in sorted(glob.glob(os.path.join(root, "deploy/overlays/*/kustomization.yaml"))):
    for i in yaml.safe_load(open(path)).get("images", []):
        tag = i.get("newTag", "")
        check(bool(re.match(r"^\d+\.\d+\.\d+", tag)) or "digest" in i, f"{path}: image {i['name']} tag {tag!r} is not an exact version")

# Every container of a workload: pinned image, resources, non-root, no escalation,
# read-only root; long-running ones also probes.
for name, d in docs:
    if d["kind"] not in ("Deployment", "StatefulSet", "Job"):
        continue
    pod = d["spec"]["template"]["spec"]
    what = f"k8s {d['kind']} {d['metadata']['name']}"
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{what}: runAsNonRoot is not set")
    for c in pod["containers"]:
        pinned(c["image"], what)
        res = c.get("resources", {})
        check("memory" in res.get("requests", {}) and "memory" in res.get("limits", {}), f"{what}: no memory request and limit")
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{what}: allowPrivilegeEscalation is not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{what}: root filesystem is writable")
        check("ALL" in sc.get("capabilities", {}).get("drop", []), f"{what}: capabilities not dropped")
        if d["kind"] != "Job":
            check("readinessProbe" in c and "livenessProbe" in c, f"{what}: probes missing")

# NetworkPolicies: the API only from the ingress controller, workers' egress never to
# the cluster's private ranges.
policies = {p["metadata"]["name"]: p["spec"] for p in kinds.get("NetworkPolicy", [])}
ingest_np = policies.get("hookpost-ingest", {})
for rule in ingest_np.get("ingress", []):
    ports = [p["port"] for p in rule.get("ports", [])]
    check(bool(ports) and all("namespaceSelector" in f and "podSelector" not in f for f in rule.get("from", [])), "k8s NetworkPolicy hookpost-ingest: an ingress rule not limited to a namespace and ports")
    if int(http_port) in ports:
        check(rule["from"][0]["namespaceSelector"]["matchLabels"].get("kubernetes.io/metadata.name") == "ingress-nginx", "k8s NetworkPolicy hookpost-ingest: the API is open beyond the ingress controller")
check(any(int(http_port) in [p["port"] for p in r.get("ports", [])] for r in ingest_np.get("ingress", [])), "k8s NetworkPolicy hookpost-ingest: no ingress to the API")
worker_np = policies.get("hookpost-worker", {})
check(set(worker_np.get("policyTypes", [])) == {"Ingress", "Egress"}, "k8s NetworkPolicy hookpost-worker: not both directions")
blocks = [b["ipBlock"] for r in worker_np.get("egress", []) for b in r.get("to", []) if "ipBlock" in b]
v4 = [b for b in blocks if b["cidr"] == "0.0.0.0/0"]
check(len(v4) == 1 and {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(v4[0].get("except", [])), "k8s NetworkPolicy hookpost-worker: internet egress does not exclude the private ranges")
check(all(b.get("except") for b in blocks), "k8s NetworkPolicy hookpost-worker: an ipBlock without exceptions")
egress_ports = {p["port"] for r in worker_np.get("egress", []) for p in r.get("ports", [])}
check({5672, 6379, 53} <= egress_ports, "k8s NetworkPolicy hookpost-worker: no egress to RabbitMQ, Redis or DNS")
for role in ("scheduler",):
    check(f"hookpost-{role}" in policies, f"k8s: no NetworkPolicy for {role}")

# Monitoring and autoscaling objects.
check(len(kinds.get("ServiceMonitor", [])) == 1, "k8s: no ServiceMonitor")
check(len(kinds.get("PrometheusRule", [])) == 1, "k8s: no PrometheusRule")
scaled = [o for o in kinds.get("ScaledObject", []) if o["spec"]["scaleTargetRef"]["name"] == "hookpost-worker"]
check(len(scaled) == 1 and scaled[0]["spec"]["triggers"][0]["type"] == "rabbitmq", "k8s: no KEDA ScaledObject on the events queue for the workers")

# Grafana in compose: on loopback, with the dashboard and Prometheus provisioned.
grafana = services.get("grafana", {})
check(all(str(p).startswith("127.0.0.1:") for p in grafana.get("ports", ["none"])), "docker-compose grafana: not published on 127.0.0.1 only")
mounts = " ".join(grafana.get("volumes", []))
check("hookpost-dashboard.json" in mounts and "provisioning" in mounts, "docker-compose grafana: dashboard or provisioning not mounted")
sources = yaml.safe_load(open(os.path.join(root, "deploy/grafana/provisioning/datasources/prometheus.yml")))
check(any(s["url"] == "http://prometheus:9090" for s in sources["datasources"]), "grafana: no data source for the compose Prometheus")

# The dashboard's and the alerts' queries: they parse, and read only exported metrics.
dashboard = json.load(open(os.path.join(root, "deploy/grafana/hookpost-dashboard.json")))
queries = []
for panel in dashboard["panels"]:
    for t in panel.get("targets", []):
        expr = t["expr"].replace("$__rate_interval", "5m").replace("$job", ".*")
        queries.append((panel["title"], expr))
check(len(queries) > 0, "dashboard: no queries")
rules = yaml.safe_load(open(os.path.join(root, "deploy/prometheus/alerts.yml")))
rule_exprs = [(r.get("alert") or r.get("record"), r["expr"]) for g in rules["groups"] for r in g["rules"]]
wrapped = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:panel_{i}", "expr": e} for i, (_, e) in enumerate(queries)]}]}
with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
    yaml.safe_dump(wrapped, f)
try:
    out = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    check(out.returncode == 0, f"dashboard: a query does not parse:\n{out.stdout}{out.stderr}")
finally:
    os.unlink(f.name)

# Every alert has a promtool unit test where it fires and one where it stays quiet.
unit = yaml.safe_load(open(os.path.join(root, "deploy/prometheus/tests/alerts_test.yml")))
cases = [c for t in unit["tests"] for c in t.get("alert_rule_test", [])]
for alert in [name for name, _ in rule_exprs if not name.startswith("hookpost:")]:
    check(any(c["alertname"] == alert and c.get("exp_alerts") for c in cases), f"alerts_test.yml: no test where {alert} fires")
    check(any(c["alertname"] == alert and not c.get("exp_alerts") for c in cases), f"alerts_test.yml: no test where {alert} stays quiet")

NAME = re.compile(r"\b((?:hookpost|process)_[a-z0-9_]+)")
metrics_file = os.environ.get("HOOKPOST_METRICS_FILE")
if metrics_file:
    exported = set()
    for line in open(metrics_file):
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            name, kind = m.groups()
            exported.add(name)
            if kind == "histogram":
                exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    for where, expr in queries + rule_exprs:
        for name in NAME.findall(expr):
            check(name in exported, f"{where}: reads {name}, which /metrics does not export")

if problems:
    print("\n".join(problems))
    sys.exit(1)
checked = f", {len(queries)} dashboard and {len(rule_exprs)} rule queries against /metrics" if metrics_file else ""
print(f"ok: compose, prometheus.yml and {len(docs)} Kubernetes objects agree with the code{checked}")
