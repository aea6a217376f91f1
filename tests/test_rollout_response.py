"""What a verifier reads from the agent's final response: the assistant's text, leniently, and bad shapes refused."""

import pydantic
import pytest

from gymbox.protocol import RolloutResponse


def message(*texts: object, role: str = "assistant") -> dict[str, object]:
    return {"type": "message", "role": role, "content": [{"type": "output_text", "text": t} for t in texts]}


def test_the_last_assistant_message_and_all_of_them_joined() -> None:
    response = RolloutResponse(
        output=[
            message("Let me check. "),
            {"type": "function_call", "name": "get_weather", "arguments": "{}", "call_id": "c1"},
            {"type": "function_call_output", "call_id": "c1", "output": "{}"},
            message("ignored", role="user"),
            {**message("It is "), "content": [*message("It is ")["content"], {"type": "refusal", "refusal": "no"}]},
            message("cold", "."),
        ]
    )
    assert response.last_message_text == "cold."
    assert response.output_text == "Let me check. It is cold."


def test_no_assistant_message_reads_as_empty_text() -> None:
    response = RolloutResponse(output=[{"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"}])
    assert response.last_message_text == ""
    assert response.output_text == ""


@pytest.mark.parametrize("content", ["a string, not parts", [{"type": "output_text", "text": 42}], None])
def test_content_the_responses_api_would_refuse_raises_a_validation_error(content: object) -> None:
    response = RolloutResponse(output=[{"type": "message", "role": "assistant", "id": "m", "content": content}])
    with pytest.raises(pydantic.ValidationError):
        _ = response.last_message_text
