"""Single containers of locally built images, with testcontainers."""

from __future__ import annotations

import httpx
import pytest

from tests.docker.conftest import WEATHER_ENV

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _no_ryuk(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ryuk (the reaper container) would need a registry pull; each test stops its own container.
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")


def _serve(image: str, *args: str):  # type: ignore[no-untyped-def]
    from testcontainers.core.container import DockerContainer

    command = ["gymbox", "serve", *args, "--host", "0.0.0.0", "--port", "8000"]
    return DockerContainer(image).with_command(command).with_exposed_ports(8000)


def _wait_health(url: str, timeout: float = 30) -> httpx.Response:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}/health did not answer within {timeout} s")
        time.sleep(0.1)


def _url(container) -> str:  # type: ignore[no-untyped-def]
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8000)}"


def test_runtime_image_serves_health_as_non_root(weather_images: tuple[str, str]) -> None:
    runtime, _ = weather_images
    with _serve(runtime, "--model", "scripted", "--name", "policy_model") as container:
        assert _wait_health(_url(container)).json()["status"] == "ok"
        code, out = container.exec(["id", "-u"])
        assert (code, out.decode().strip()) == (0, "10001")
        code, out = container.exec(["sh", "-c", "echo $GYMBOX_ENVIRONMENTS_DIR"])
        assert out.decode().strip() == "/srv/environments"


def test_environment_image_serves_its_tools(weather_images: tuple[str, str]) -> None:
    _, env_image = weather_images
    config = f"/srv/environments/{WEATHER_ENV}/configs/{WEATHER_ENV}.yaml"
    with _serve(env_image, "-c", config, "--model", "scripted", "--name", WEATHER_ENV) as container:
        url = _url(container)
        _wait_health(url)
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.post("/seed_session", json={"responses_create_params": {"input": []}}).status_code == 200
            result = http.post("/get_weather", json={"city": "Paris"})
            assert result.status_code == 200
            assert result.json()["city"] == "Paris"
            assert http.post("/get_weather", json={}).status_code == 422


def test_bootstrap_skips_an_existing_root_image(gymbox_env: dict[str, str]) -> None:
    from gymbox.docker.images import ROOT_IMAGE, image_exists
    from tests.docker.conftest import gymbox

    if not image_exists(ROOT_IMAGE):
        pytest.skip(f"{ROOT_IMAGE} not made here (`gymbox images bootstrap` takes about a minute)")
    result = gymbox("images", "bootstrap", env=gymbox_env, timeout=60)
    assert "nothing to do" in result.stderr
