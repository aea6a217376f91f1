"""Driving Docker: images, compose rendering and the stack lifecycle.

    client     the one function every docker / compose command goes through (DockerError, GYMBOX_DEBUG)
    context    build contexts gymbox assembles, and the content hash that tags their images
    images     runtime and environment images: specs, tags, parallel builds; `prune`
    bootstrap  the offline root image (debootstrap + docker import)
    service    what a compose service is made of; labels; the healthcheck
    secrets    secrets out of rendered files, into a mode-600 .env
    render     config -> compose/<stack>/{docker-compose.yaml, stack.yaml, .env}
    vllm       the `<instance>-vllm` service of a vllm_model instance
    records    docker's JSON (inspect, ls) as pydantic records
    stack      Stack (up/down by label), agent_urls() for the collector
    wait       waiting for health, and the errors that say why not
    deploy     build + render + up in one call (what `gymbox up` runs)
    status_table  the table `gymbox up` / `gymbox ps` print
    testenv    an environment's tests inside its image

Nothing is imported here: `import gymbox.docker.stack` loads only what it needs.
"""
