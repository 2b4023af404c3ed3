#!/usr/bin/env python3
"""Checks deploy/k8s without a cluster: kubectl renders it (kustomize), every object is
well-formed, every flag a container passes to our binaries exists in that binary's --help,
every volume, ConfigMap and probe port a container uses is defined, and the shard count agrees
between the StatefulSet, the build Job, its --shards and the router's shards file.

    check_k8s.py SOURCE_DIR BIN_DIR
"""
import re
import shutil
import subprocess
import sys

import yaml

EXTERNAL_SECRETS = {"galaxy-tokens", "galaxy-tls"}  # made by the operator (kustomization.yaml says how)


def fail(message):
    print("check_k8s: " + message, file=sys.stderr)
    sys.exit(1)


def render(source):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        fail("kubectl not found: deploy/install-deps.sh installs Debian's kubernetes-client")
    out = subprocess.run([kubectl, "kustomize", source + "/deploy/k8s"], capture_output=True, text=True)
    if out.returncode != 0:
        fail("kubectl kustomize deploy/k8s failed: " + out.stderr.strip())
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def help_text(bin_dir, binary, subcommand):
    argv = [bin_dir + "/" + binary] + ([subcommand] if subcommand else []) + ["--help"]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        fail(" ".join(argv) + " failed: " + out.stderr.strip())
    return out.stdout


def containers(doc):
    spec = doc.get("spec", {})
    template = spec.get("template", {}).get("spec", {})
    return template.get("containers", []), template.get("volumes", [])


def check_flags(doc, container, bin_dir):
    command = container.get("command") or ["galaxy-server"]
    binary = command[0]
    args = container.get("args", [])
    subcommand = args[0] if args and not args[0].startswith("-") else None
    text = help_text(bin_dir, binary, subcommand)
    for arg in args:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if not re.search(re.escape(flag) + r"(?![\w-])", text):
            fail(f"{doc['kind']}/{doc['metadata']['name']}: {binary} {subcommand or ''} has no flag {flag}")


def check_volumes(doc, container, volumes, names):
    defined = {v["name"]: v for v in volumes}
    for mount in container.get("volumeMounts", []):
        if mount["name"] not in defined:
            fail(f"{doc['kind']}/{doc['metadata']['name']}: volume {mount['name']} is mounted but not defined")
    for v in volumes:
        if "configMap" in v and v["configMap"]["name"] not in names["ConfigMap"]:
            fail(f"{doc['metadata']['name']}: no ConfigMap {v['configMap']['name']}")
        if "secret" in v and v["secret"]["secretName"] not in EXTERNAL_SECRETS:
            fail(f"{doc['metadata']['name']}: secret {v['secret']['secretName']} is not a documented one")
        if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in names["PersistentVolumeClaim"]:
            fail(f"{doc['metadata']['name']}: no PersistentVolumeClaim {v['persistentVolumeClaim']['claimName']}")


def check_probes(doc, container):
    ports = {p["containerPort"] for p in container.get("ports", [])}
    for probe in ("readinessProbe", "livenessProbe"):
        spec = container.get(probe)
        if spec is None:
            fail(f"{doc['kind']}/{doc['metadata']['name']}: a server without a {probe}")
        if spec.get("grpc", {}).get("port") not in ports:
            fail(f"{doc['kind']}/{doc['metadata']['name']}: the {probe} asks a port the container does not open")


def check_training(names):
    """The training Job's ranks: one per completion index, all told the same world size, and
    rank 0 reachable at the address every rank is given (pod 0 under the headless Service)."""
    job = names["Job"].get("galaxy-train")
    if job is None:
        fail("no Job galaxy-train")
    spec = job["spec"]
    pod = spec["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0].get("env", [])}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in env:
            fail(f"Job/galaxy-train: {name} is not set")
    world = int(env["WORLD_SIZE"]["value"])
    if not (spec.get("completionMode") == "Indexed" and spec["completions"] == spec["parallelism"] == world):
        fail(f"Job/galaxy-train: an Indexed Job of WORLD_SIZE {world} pods needs completions and parallelism {world}")
    if "job-completion-index" not in env["RANK"].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", ""):
        fail("Job/galaxy-train: RANK must be the pod's completion index")
    service = pod.get("subdomain")
    if service not in names.get("Service", {}) or names["Service"][service]["spec"].get("clusterIP") != "None":
        fail(f"Job/galaxy-train: subdomain {service} is not a headless Service")
    if env["MASTER_ADDR"]["value"] != f"{job['metadata']['name']}-0.{service}":
        fail(f"Job/galaxy-train: MASTER_ADDR {env['MASTER_ADDR']['value']} is not rank 0's pod")
    batch = [a for a in pod["containers"][0]["args"] if a.startswith("--batch=")]
    if batch and int(batch[0].split("=")[1]) % world:
        fail(f"Job/galaxy-train: --batch is not a multiple of WORLD_SIZE {world}")
    return world


def main():
    source, bin_dir = sys.argv[1], sys.argv[2]
    docs = render(source)
    names = {}
    for d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                fail(f"an object without {key}: {d}")
        names.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    for kind in ("StatefulSet", "Deployment", "Job", "ConfigMap", "PersistentVolumeClaim"):
        names.setdefault(kind, {})
    for d in docs:
        cs, volumes = containers(d)
        for c in cs:
            if c.get("image", "").split(":")[0] != "galaxy-search":
                fail(f"{d['metadata']['name']}: image {c.get('image')} is not galaxy-search")
            if "requests" not in c.get("resources", {}):
                fail(f"{d['metadata']['name']}: no resource requests")
            check_flags(d, c, bin_dir)
            check_volumes(d, c, volumes, names)
            if d["kind"] in ("StatefulSet", "Deployment"):
                check_probes(d, c)
    # One shard count everywhere.
    shards = names["StatefulSet"]["galaxy-shard"]["spec"]["replicas"]
    job = names["Job"]["galaxy-build"]["spec"]
    lines = [l for l in names["ConfigMap"][next(iter(names["ConfigMap"]))]["data"]["shards.txt"].splitlines()
             if l.strip() and not l.startswith("#")]
    flag = [a for a in job["template"]["spec"]["containers"][0]["args"] if a.startswith("--shards=")]
    counts = {"StatefulSet replicas": shards, "Job completions": job["completions"],
              "Job parallelism": job["parallelism"], "build --shards": int(flag[0].split("=")[1]),
              "shards.txt lines": len(lines)}
    if len(set(counts.values())) != 1:
        fail("the shard count differs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for i, line in enumerate(lines):
        if line.strip() != f"galaxy-shard-{i}.galaxy-shard:50051":
            fail(f"shards.txt line {i + 1} is {line!r}, not shard {i}'s address")
    ranks = check_training(names)
    print(f"check_k8s: {len(docs)} objects, {shards} shards, {ranks} training ranks, every flag known to its binary")


if __name__ == "__main__":
    main()
