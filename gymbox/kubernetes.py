"""Kubernetes manifests for a rendered stack: the same services, on a cluster instead of one engine.

    files = render(config, "weather", images)            # compose/<stack>/ as for `gymbox up`
    write_manifests(files)                               # + compose/<stack>/kubernetes.yaml

Each compose service becomes a Deployment and a *headless* Service of the same name, so peers find each
other by the names in stack.yaml (`http://<instance>:8000`) and a service name resolves to every pod:
an agent pins each episode to one pod, as it pins it to one replica under compose. Secrets stay out of
the manifests: they name a Secret that `kubectl create secret generic <stack>-secrets --from-env-file
compose/<stack>/.env` makes from the mode-600 .env beside them. A sandbox gets a NetworkPolicy that
admits only the servers naming it and lets nothing out, its container the same hardening as under compose.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gymbox.docker.render import StackFiles
from gymbox.docker.service import STACK_LABEL, Service

MANIFEST_FILE = "kubernetes.yaml"
CONFIG_MOUNT_DIR = "/etc/gymbox"
MODEL_CACHE_SIZE = "200Gi"  # a PersistentVolumeClaim per model-cache volume; weights of one large model
PROBE_PERIOD_S = 5
_ENV_REF = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<optional>:-)?\}$")


def secret_name(stack: str) -> str:
    return f"{stack}-secrets"


def config_map_name(stack: str) -> str:
    return f"{stack}-config"


def _labels(svc: Service) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "gymbox",
        "app.kubernetes.io/name": svc.name,
        **{key: _label_value(value) for key, value in svc.labels.items() if key.startswith("gymbox.")},
    }


def _label_value(value: str) -> str:
    """Label values are at most 63 characters of [A-Za-z0-9._-]; a config hash or a name fits."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)[:63].strip("._-")


def _selector(svc: Service) -> dict[str, str]:
    return {STACK_LABEL: _label_value(svc.labels[STACK_LABEL]), "app.kubernetes.io/name": svc.name}


def _quantity(memory: str) -> str:
    """Compose memory (`512m`, `2g`, `1024k`, bytes) as a Kubernetes quantity (`512Mi`, `2Gi`)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmgt]?)b?", memory.strip().lower())
    if match is None:
        return memory
    number, unit = match.groups()
    return number + {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}[unit]


def _env(svc: Service, stack: str) -> list[dict[str, Any]]:
    """Compose `${NAME}` references to .env become keys of the stack's Secret; plain values stay values."""
    env: list[dict[str, Any]] = []
    for key, value in svc.environment.items():
        match = _ENV_REF.match(str(value))
        if match is None:
            env.append({"name": key, "value": str(value)})
            continue
        ref: dict[str, Any] = {"name": secret_name(stack), "key": match["name"]}
        if match["optional"]:
            ref["optional"] = True
        env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    return env


def _probe(svc: Service, port: int) -> dict[str, Any]:
    """gymbox servers answer `GET /health`; any other service keeps its compose healthcheck command."""
    test = list(svc.healthcheck.get("test", []))
    if svc.gymbox or not test:
        handler: dict[str, Any] = {"httpGet": {"path": "/health", "port": port}}
    elif test[0] == "CMD-SHELL":
        handler = {"exec": {"command": ["/bin/sh", "-c", test[1]]}}
    else:
        handler = {"exec": {"command": test[1:] if test[0] == "CMD" else test}}
    return {**handler, "periodSeconds": PROBE_PERIOD_S, "timeoutSeconds": 10, "failureThreshold": 5}


def _start_period_s(svc: Service) -> int:
    match = re.fullmatch(r"(\d+)s", str(svc.healthcheck.get("start_period", "60s")))
    return int(match[1]) if match else 60


def _container(svc: Service, stack: str, port: int) -> dict[str, Any]:
    container: dict[str, Any] = {"name": svc.name, "image": svc.image, "ports": [{"containerPort": port}]}
    if svc.command:
        container["args"] = list(svc.command)  # compose `command` replaces the image CMD, as `args` does
    env = _env(svc, stack)
    if env:
        container["env"] = env
    resources: dict[str, dict[str, Any]] = {}
    if svc.cpus:
        resources.setdefault("limits", {})["cpu"] = str(svc.cpus)
    if svc.memory:
        resources.setdefault("limits", {})["memory"] = _quantity(svc.memory)
    if svc.gpus:
        resources.setdefault("limits", {})["nvidia.com/gpu"] = svc.gpus
    if resources:
        container["resources"] = resources
    probe = _probe(svc, port)
    # The start-up probe carries the compose start period (minutes for a vLLM download), then readiness
    # and liveness take over at their usual pace.
    startup = {**probe, "failureThreshold": max(1, _start_period_s(svc) // PROBE_PERIOD_S)}
    container.update(startupProbe=startup, readinessProbe=probe, livenessProbe=probe)
    # No container of a stack needs to gain privileges; compose sets no-new-privileges on the sandbox.
    security: dict[str, Any] = {"allowPrivilegeEscalation": False}
    if svc.user:
        uid, _, gid = svc.user.partition(":")
        # The sandbox server alone is root (with a few capabilities), to give each run a user of its own.
        security.update(runAsUser=int(uid), runAsGroup=int(gid or uid), runAsNonRoot=int(uid) != 0)
    if svc.read_only:
        security["readOnlyRootFilesystem"] = True
    if svc.cap_drop:
        security["capabilities"] = {"drop": list(svc.cap_drop)}
    if svc.cap_add:
        security.setdefault("capabilities", {})["add"] = list(svc.cap_add)
    container["securityContext"] = security
    return container


def _volumes(svc: Service, stack: str, container: dict[str, Any]) -> list[dict[str, Any]]:
    """The stack.yaml ConfigMap, tmpfs mounts as memory-backed emptyDirs, named volumes as claims."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if svc.gymbox:
        volumes.append({"name": "stack-config", "configMap": {"name": config_map_name(stack)}})
        mounts.append({"name": "stack-config", "mountPath": CONFIG_MOUNT_DIR, "readOnly": True})
    for index, spec in enumerate(svc.tmpfs):
        path, _, options = spec.partition(":")
        size = re.search(r"size=(\w+)", options)
        empty_dir: dict[str, Any] = {"medium": "Memory"}
        if size:
            empty_dir["sizeLimit"] = _quantity(size[1])
        volumes.append({"name": f"tmpfs-{index}", "emptyDir": empty_dir})
        mounts.append({"name": f"tmpfs-{index}", "mountPath": path})
    if svc.shm_size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _quantity(svc.shm_size)}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    for spec in svc.volumes:
        name, _, path = spec.partition(":")
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": name}})
        mounts.append({"name": name, "mountPath": path.split(":")[0]})
    if mounts:
        container["volumeMounts"] = mounts
    return volumes


def deployment(svc: Service, stack: str, port: int) -> dict[str, Any]:
    container = _container(svc, stack, port)
    pod_spec: dict[str, Any] = {"containers": [container], "enableServiceLinks": False}
    volumes = _volumes(svc, stack, container)
    if volumes:
        pod_spec["volumes"] = volumes
    if svc.gymbox:
        # The mounted file is the same path `gymbox serve -c` reads under compose.
        pod_spec["automountServiceAccountToken"] = False
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": svc.name, "labels": _labels(svc)},
        "spec": {
            "replicas": svc.replicas,
            "selector": {"matchLabels": _selector(svc)},
            "template": {"metadata": {"labels": _labels(svc)}, "spec": pod_spec},
        },
    }


def headless_service(svc: Service, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": svc.name, "labels": _labels(svc)},
        "spec": {
            "clusterIP": "None",  # DNS answers every pod: episodes pin to one, as with compose replicas
            "selector": _selector(svc),
            "ports": [{"name": "http", "port": port, "targetPort": port}],
        },
    }


def sandbox_policy(sandbox: Service, clients: list[Service]) -> dict[str, Any]:
    """Only the servers naming the sandbox may connect to it, and it may connect to nothing (no egress)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{sandbox.name}-isolation", "labels": _labels(sandbox)},
        "spec": {
            "podSelector": {"matchLabels": _selector(sandbox)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": _selector(c)}} for c in clients]}],
            "egress": [],
        },
    }


def manifests(files: StackFiles, config_text: str, *, port: int = 8000) -> list[dict[str, Any]]:
    stack = files.name
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map_name(stack), "labels": {STACK_LABEL: stack}},
            "data": {"stack.yaml": config_text},
        }
    ]
    for volume, labels in files.volumes.items():
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": volume, "labels": {k: _label_value(v) for k, v in labels.items()}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": MODEL_CACHE_SIZE}}},
            }
        )
    for svc in files.services:
        out += [deployment(svc, stack, port), headless_service(svc, port)]
    for network in files.sandbox_networks:
        members = [svc for svc in files.services if network in svc.networks]
        sandboxes = [svc for svc in members if svc.read_only]
        clients = [svc for svc in members if not svc.read_only]
        out += [sandbox_policy(sandbox, clients) for sandbox in sandboxes]
    return out


def write_manifests(files: StackFiles) -> Path:
    """Write `compose/<stack>/kubernetes.yaml` beside the compose files (render them first)."""
    import yaml

    config_text = (files.directory / "stack.yaml").read_text()
    documents = manifests(files, config_text)
    header = (
        f"# Stack {files.name!r} for Kubernetes, rendered by `gymbox render --engine k8s`: do not edit.\n"
        f"# Secrets first: kubectl create secret generic {secret_name(files.name)} "
        f"--from-env-file {files.directory / '.env'}\n"
        f"# Then: kubectl apply -f {files.directory / MANIFEST_FILE}\n"
    )
    path = files.directory / MANIFEST_FILE
    path.write_text(header + yaml.safe_dump_all(documents, sort_keys=False))
    return path
