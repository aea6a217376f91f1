"""`gymbox view` in a real headless Chromium over rollouts a real stack wrote.

The weather stack with the scripted model scores one of its five tasks 0 (row 4 is scripted to answer
wrongly). The test filters the tasks down to that one, opens a rollout of it, reads its tool call and
reward on the page, and compares two runs. Chromium is Debian's (`apt-get install chromium`, done by
scripts/setup.sh), driven by PyPI's playwright; `playwright install` is never needed. Screenshots are
kept under the test's temporary folder, and copied to `$GYMBOX_SCREENSHOTS_DIR` when that is set (how
docs/screenshots/ is made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker.conftest import WEATHER_AGENT, WEATHER_CONFIG, gymbox

pytestmark = pytest.mark.docker

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLE = WEATHER_CONFIG.parents[1] / "data" / "example.jsonl"
READY = "document.body.dataset.ready !== undefined && document.body.dataset.ready === location.hash"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/setup.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def runs(weather_images: tuple[str, str], stack_name: str, gymbox_env: dict[str, str], tmp_path: Path) -> list[Path]:
    """Two runs of the weather stack: all five tasks x 4, then the first three x 2."""
    gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=600)
    paths = []
    for name, extra in (
        ("weather_a.jsonl", ["--repeats", "4"]),
        ("weather_b.jsonl", ["--repeats", "2", "--limit", "3"]),
    ):
        out = tmp_path / name
        gymbox("rollout", "--stack", stack_name, "--agent", WEATHER_AGENT, "-i", str(EXAMPLE), "-o", str(out), *extra,
               env=gymbox_env, timeout=300)  # fmt: skip
        paths.append(out)
    return paths


@pytest.fixture
def viewer(runs: list[Path], gymbox_env: dict[str, str]) -> Iterator[str]:
    """`gymbox view A B --port 0`, as a user runs it; yields its URL."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gymbox"), "view", *(run.name for run in runs), "--port", "0"],
        cwd=runs[0].parent,  # relative names, as a user in the rollouts folder types them
        env=gymbox_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if line.startswith("gymbox view: http://"):
                url = line.split()[2].rstrip("/")
                break
        assert url, f"gymbox view exited {proc.wait()} without serving"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_filter_to_the_failing_task_open_a_rollout_and_compare_runs(
    chromium: Path, viewer: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        page.goto(viewer)
        page.wait_for_function(READY)
        expect(page.locator(".card").filter(has_text="Rollouts")).to_contain_text("20")
        expect(page.locator(".card").filter(has_text="Mean reward")).to_contain_text("0.800")
        page.screenshot(path=shots / "overview.png", full_page=True)

        # Tasks: five, then only those whose mean reward is at most 0: the one scripted to fail.
        page.click('nav a[data-nav="tasks"]')
        page.wait_for_function(READY)
        expect(page.locator("#task-count")).to_have_text("1\u20135 of 5 tasks")
        page.fill('input[name="max_reward"]', "0")
        page.press('input[name="max_reward"]', "Enter")
        page.wait_for_function(READY + " && location.hash.includes('max_reward=0')")
        expect(page.locator("#task-count")).to_have_text("1\u20131 of 1 tasks")
        failing = page.locator("tbody tr")
        expect(failing).to_contain_text("Nairobi")
        expect(failing).to_contain_text("constant · all 0")
        page.screenshot(path=shots / "tasks.png", full_page=True)

        # Its rollouts, then one of them as a conversation with its tool call and verify result.
        failing.first.click()
        page.wait_for_function(READY + " && location.hash.includes('/task/')")
        expect(page.locator("tbody tr")).to_have_count(4)
        page.locator("tbody tr").first.click()
        page.wait_for_function(READY + " && location.hash.includes('/rollout/')")
        call = page.locator(".turn.tool_call")
        expect(call).to_contain_text("get_weather")
        expect(call).to_contain_text('"city": "Nairobi"')
        expect(call.locator("pre").nth(1)).to_contain_text('"weather"')
        expect(page.locator(".turn.assistant")).to_contain_text("sunny and warm")
        expect(page.locator("#verify .big")).to_have_text("0.000")
        expect(page.locator("#verify")).to_contain_text("ok")
        page.screenshot(path=shots / "rollout.png", full_page=True)
        # The next repeat of the same task, then a task whose model step reasons before its tool call.
        page.click("text=Next repeat")
        page.wait_for_function(READY + " && document.querySelector('.nav-rollouts').innerText.includes('2 of 4')")
        page.goto(f"{viewer}/#/r/0/tasks?q=Paris")
        page.wait_for_function(READY)
        page.locator("tbody tr").first.click()
        page.wait_for_function(READY + " && location.hash.includes('/task/')")
        page.locator("tbody tr").first.click()
        page.wait_for_function(READY + " && location.hash.includes('/rollout/')")
        expect(page.locator(".turn.reasoning")).to_contain_text("The user asks about Paris")
        expect(page.locator("#verify .big")).to_have_text("1.000")
        page.screenshot(path=shots / "rollout_reasoning.png", full_page=True)

        # Two runs: the three tasks both ran, per task and per environment.
        page.click('nav a[data-nav="compare"]')
        page.wait_for_function(READY + " && location.hash.startsWith('#/compare')")
        expect(page.locator(".card").filter(has_text="Shared tasks")).to_contain_text("3")
        expect(page.locator(".panel").filter(has_text="Per task").locator("tbody tr")).to_have_count(3)
        expect(page.locator(".card").filter(has_text="B · mean reward")).to_contain_text("1.000")
        page.screenshot(path=shots / "compare.png", full_page=True)
        browser.close()

    assert errors == []
    assert sorted(p.name for p in shots.iterdir()) == [
        "compare.png",
        "overview.png",
        "rollout.png",
        "rollout_reasoning.png",
        "tasks.png",
    ]
    if os.environ.get("GYMBOX_SCREENSHOTS_DIR"):
        shutil.copytree(shots, os.environ["GYMBOX_SCREENSHOTS_DIR"], dirs_exist_ok=True)
