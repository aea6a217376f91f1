"""Build contexts, content tags, the host's Debian mirror and the docker runner, without Docker."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from gymbox.config import load_config
from gymbox.docker import client
from gymbox.docker.bootstrap import host_mirror
from gymbox.docker.context import BuildContext
from gymbox.docker.images import env_spec, environment_images, resolve_ca_bundle
from gymbox.errors import ConfigError, DockerError


def _env(tmp_path: Path, name: str = "demo") -> Path:
    env = tmp_path / name
    (env / "tests").mkdir(parents=True)
    (env / "Dockerfile").write_text("ARG RUNTIME_IMAGE\nFROM ${RUNTIME_IMAGE} AS env\n")
    (env / "app.py").write_text("x = 1\n")
    (env / "tests" / "test_app.py").write_text("def test_x():\n    pass\n")
    return env


@pytest.fixture
def envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GYMBOX_ENVIRONMENTS_DIR", str(tmp_path))
    _env(tmp_path)
    return tmp_path


def test_env_tag_is_stable_and_follows_content(envs: Path) -> None:
    first = env_spec("demo", "gymbox/runtime:aaa").tag
    assert first.startswith("gymbox/env-demo:")
    assert len(first.split(":")[1]) == 12
    assert env_spec("demo", "gymbox/runtime:aaa").tag == first
    (envs / "demo" / "app.py").write_text("x = 2\n")
    assert env_spec("demo", "gymbox/runtime:aaa").tag != first


def test_env_tag_follows_the_runtime_and_the_target(envs: Path) -> None:
    tag = env_spec("demo", "gymbox/runtime:aaa").tag
    assert env_spec("demo", "gymbox/runtime:bbb").tag != tag
    assert env_spec("demo", "gymbox/runtime:aaa", target="test").tag != tag


def test_two_instances_of_one_environment_with_other_build_args_run_two_images(envs: Path) -> None:
    config = envs / "two.yaml"
    config.write_text(
        "one:\n  resources_servers:\n    demo: {}\n"
        "two:\n  resources_servers:\n    demo:\n      build_args: {VERSION: 0.7.0}\n"
    )
    stack = load_config([config], assign_ports=False, env_file=Path("/dev/null"))
    images = environment_images(stack)
    assert [image.key for image in images] == ["demo", "demo[VERSION=0.7.0]"]
    specs = [env_spec(image.name, "r:1", build_args=dict(image.build_args)) for image in images]
    assert specs[1].build_args == {"VERSION": "0.7.0", "RUNTIME_IMAGE": "r:1"}  # passed as --build-arg
    assert specs[0].tag.partition(":")[0] == specs[1].tag.partition(":")[0] == "gymbox/env-demo"
    assert specs[0].tag != specs[1].tag  # the build args are part of the tag


def test_caches_never_reach_the_context_or_the_tag(envs: Path) -> None:
    tag = env_spec("demo", "r:1").tag
    cache = envs / "demo" / "__pycache__"
    cache.mkdir()
    (cache / "app.cpython-311.pyc").write_bytes(b"junk")
    (envs / "demo" / ".pytest_cache").mkdir()
    (envs / "demo" / "env.yaml").write_text("secret: 1\n")
    spec = env_spec("demo", "r:1")
    assert spec.tag == tag
    names = tarfile.open(fileobj=io.BytesIO(spec.context.tar())).getnames()
    assert sorted(names) == ["Dockerfile", "app.py", "tests", "tests/test_app.py"]


def test_missing_dockerfile_says_where(envs: Path) -> None:
    (envs / "bare").mkdir()
    with pytest.raises(ConfigError, match="bare/Dockerfile"):
        env_spec("bare", "r:1")


def test_untagged_files_travel_but_do_not_change_the_tag() -> None:
    ctx = BuildContext()
    ctx.add_bytes("Dockerfile", b"FROM x\n")
    ctx.ensure_dir("ca")
    tag = ctx.tag()
    ctx.add_bytes("ca/extra.crt", b"-----BEGIN CERTIFICATE-----\n", tagged=False)
    assert ctx.tag() == tag
    tar = tarfile.open(fileobj=io.BytesIO(ctx.tar()))
    assert {"Dockerfile", "ca", "ca/.keep", "ca/extra.crt"} <= set(tar.getnames())
    assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())  # reproducible: layer cache hits
    assert ctx.tag({"BASE": "a"}) != ctx.tag({"BASE": "b"})


def test_ca_bundle_option_env_and_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GYMBOX_CA_BUNDLE", raising=False)
    assert resolve_ca_bundle(None) is None
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    assert resolve_ca_bundle(str(pem)) == pem
    monkeypatch.setenv("GYMBOX_CA_BUNDLE", str(pem))
    assert resolve_ca_bundle(None) == pem
    with pytest.raises(ConfigError, match="not found"):
        resolve_ca_bundle(str(tmp_path / "missing.pem"))


def test_host_mirror_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n")
    assert host_mirror(tmp_path) == "http://one.example/debian"
    assert host_mirror(tmp_path / "nowhere") == "http://deb.debian.org/debian"


def test_failed_command_raises_docker_error_with_command_code_and_stderr() -> None:
    with pytest.raises(DockerError) as info:
        client.run(["sh", "-c", "echo oops >&2; exit 3"])
    assert (info.value.command, info.value.returncode) == (["sh", "-c", "echo oops >&2; exit 3"], 3)
    assert info.value.stderr.strip() == "oops"
    assert client.run(["sh", "-c", "exit 4"], check=False).returncode == 4


def test_missing_program_and_timeout_are_docker_errors() -> None:
    with pytest.raises(DockerError, match="not found"):
        client.run(["gymbox-no-such-program"])
    with pytest.raises(DockerError, match="timed out"):
        client.run(["sleep", "5"], timeout=0.2)


def test_debug_echoes_commands(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GYMBOX_DEBUG", "1")
    client.run(["true", "a b"])
    assert "+ true 'a b'" in capsys.readouterr().err
    monkeypatch.setenv("GYMBOX_DEBUG", "0")
    client.run(["true"])
    assert capsys.readouterr().err == ""


def test_compose_argv_names_project_and_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "compose_base", lambda: ("docker-compose",))
    assert client.compose_argv("gymbox-x", ["a.yaml"], "up", "-d") == [
        "docker-compose",
        "--project-name",
        "gymbox-x",
        "--file",
        "a.yaml",
        "up",
        "-d",
    ]
