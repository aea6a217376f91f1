"""The vLLM container a `vllm_model` instance brings along: `<instance>-vllm`, on the stack's GPUs.

The `vllm_model` proxy (gymbox.model_servers.openai_model) runs as the instance's own service and reaches this
one at http://<instance>-vllm:8000/v1; its `vllm serve` arguments come from the same module, so the
proxy and the container never disagree. An instance with its own `base_url` uses an existing server and
gets no container.
"""

from __future__ import annotations

from typing import Any

from gymbox.config import ServerInstance, validate_fields
from gymbox.docker.service import INSTANCE_LABEL, ROLE_LABEL, STACK_LABEL, Service, healthcheck

HF_CACHE = "/root/.cache/huggingface"
# Model download and load take minutes; failures before this do not count against the retries.
START_PERIOD = "1800s"
SHM_SIZE = "8g"  # PyTorch workers share tensors through /dev/shm; docker's 64 MB default is too small


def _config(inst: ServerInstance) -> Any:
    from gymbox.model_servers.openai_model import VLLMModelServer

    return validate_fields(inst, VLLMModelServer.Config)


def vllm_service(inst: ServerInstance, stack_name: str, secret_names: dict[str, str]) -> tuple[Service, str]:
    """The `<instance>-vllm` service and the name of its model-cache volume."""
    from gymbox.model_servers.openai_model import VLLM_PORT, VLLMModelServer

    config = _config(inst)
    # Compose fills these in at `up`, so neither is ever written into the compose file: HF_TOKEN (gated
    # models) from the config's `hf_token` in .env, else from the caller's environment; the api key the
    # proxy sends, from .env.
    names = set(secret_names.values())
    hf_token = "GYMBOX_SECRET_HF_TOKEN"  # a top-level `hf_token` in the config
    environment = {"HF_TOKEN": "${" + hf_token + "}" if hf_token in names else "${HF_TOKEN:-}"}
    if config.api_key in secret_names:  # every api_key set in the config is a secret in .env
        environment["VLLM_API_KEY"] = "${" + secret_names[config.api_key] + "}"
    volume = f"{inst.name}-hf-cache"
    health = healthcheck(VLLM_PORT, interval="5s", start_period=START_PERIOD)
    health["test"] = [
        "CMD",
        "python3",
        "-c",
        f"import urllib.request;urllib.request.urlopen('http://127.0.0.1:{VLLM_PORT}/health',timeout=4)",
    ]
    health["timeout"] = "5s"
    service = Service(
        name=VLLMModelServer.service_name(inst.name),
        image=config.image,
        labels={STACK_LABEL: stack_name, INSTANCE_LABEL: inst.name, ROLE_LABEL: "vllm"},
        command=VLLMModelServer.vllm_serve_args(config),
        healthcheck=health,
        restart=inst.config.restart,
        # The official image runs as root and keeps its caches under /root; the container is reachable
        # only on the stack's private network.
        user=None,
        gymbox=False,
        environment=environment,
        volumes=[f"{volume}:{HF_CACHE}"],
        gpus=config.tensor_parallel_size,
        placement=list(inst.config.placement or []),
        shm_size=SHM_SIZE,
        comment=f"vLLM for {inst.name}: {config.model}",
    )
    return service, volume
