"""`gymbox config --json` through the real executable: the resolved config as JSON, secrets masked."""

from __future__ import annotations

import json

from tests.cli_helpers import WEATHER_CONFIG, gymbox


def test_config_json_is_the_resolved_config_with_secrets_masked() -> None:
    result = gymbox(
        "config", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--set", "judge_api_key=s3cret-value", "--json"
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert "example_single_tool_call_simple_agent" in config
    assert "policy_model" in config
    assert config["judge_api_key"] != "s3cret-value"
    assert "s3cret-value" not in result.stdout
