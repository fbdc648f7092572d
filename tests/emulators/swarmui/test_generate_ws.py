"""GenerateText2ImageWS: message order and shapes, the reusable socket, errors, interrupts and
dropped connections (reference §3.3, §9 item 6). Progress needs time, so these use `slow_api`
(20 ms per step) and 10 steps."""

from __future__ import annotations

import json
import time

import pytest

from tests.emulators.swarmui.helpers import INVALID_SESSION, kinds, open_image
from tests.support.processes import wait_until

STATUS_COUNTS = {"waiting_gens", "loading_models", "waiting_backends", "live_gens"}
STEPS_ERROR = (
    "Invalid value for parameter Steps: "
    "Invalid integer value for param Steps - '900' - must be between 0 and 500"
)


def of_kind(messages: list[dict], key: str) -> list[dict]:
    return [message for message in messages if key in message]


@pytest.fixture(scope="module")
def transcript_api(start_module_api):
    return start_module_api("--step-delay", "0.02")


@pytest.fixture(scope="module")
def transcript(transcript_api):
    """Every message of one `images: 1` request with 10 steps, read until the socket closed;
    shared by the tests that only inspect it."""
    with transcript_api.generate_ws(steps=10) as sock:
        sock.read_to_end()
    return sock


def test_images_1_messages_come_in_the_reference_order(transcript):
    order = kinds(transcript.messages)
    image_at = order.index("image")
    before, after = order[:image_at], order[image_at + 1 :]

    assert before[0] == "status"
    assert "gen_progress" in before
    assert set(before) == {"status", "gen_progress"}
    assert [kind for kind in after[:-1] if kind != "status"] == [
        "keep_alive",
        "discard_indices",
        "socket_intention",
    ]
    assert after[-2:] == ["socket_intention", "status"]
    assert transcript.close_code == 1000


def test_status_messages_are_full_status_snapshots(transcript):
    statuses = of_kind(transcript.messages, "status")

    for message in statuses:
        assert set(message) == {"status", "backend_status", "supported_features"}
        assert set(message["status"]) == STATUS_COUNTS
        assert message["backend_status"]["status"] == "running"
        assert isinstance(message["supported_features"], list)
    assert any(s["status"]["waiting_gens"] + s["status"]["live_gens"] > 0 for s in statuses)
    assert set(statuses[-1]["status"].values()) == {0}


def test_progress_is_fractions_with_string_batch_index_and_request_id(transcript):
    progress = [message["gen_progress"] for message in of_kind(transcript.messages, "gen_progress")]

    assert len(progress) >= 2
    for update in progress:
        assert update["batch_index"] == "0"
        assert isinstance(update["request_id"], str)
        assert 0 <= update["overall_percent"] <= 1
        assert 0 <= update["current_percent"] <= 1
    assert any(0 < update["overall_percent"] < 1 for update in progress)
    assert len({update["request_id"] for update in progress}) == 1


def test_first_progress_carries_preview_metadata(transcript):
    first = of_kind(transcript.messages, "gen_progress")[0]["gen_progress"]

    assert json.loads(first["metadata"])["sui_image_params"]["is_preview"] is True


def test_image_is_a_top_level_string_with_batch_index_request_id_and_metadata(
    transcript_api, transcript
):
    (message,) = of_kind(transcript.messages, "image")
    progress = of_kind(transcript.messages, "gen_progress")[0]["gen_progress"]

    assert set(message) == {"image", "batch_index", "request_id", "metadata"}
    assert message["image"].startswith("View/local/raw/")
    assert (message["batch_index"], message["request_id"]) == ("0", progress["request_id"])
    assert json.loads(message["metadata"])["sui_image_params"]["prompt"] == "a cat"
    assert open_image(transcript_api, message["image"]).text["parameters"] == message["metadata"]


def test_discard_indices_is_sent_once_and_empty(transcript):
    assert of_kind(transcript.messages, "discard_indices") == [{"discard_indices": []}]
    assert {"keep_alive": True} in transcript.messages
    assert of_kind(transcript.messages, "socket_intention") == [{"socket_intention": "close"}]


def test_server_waits_about_two_seconds_after_socket_intention_then_closes_1000(slow_api):
    with slow_api.generate_ws() as sock:
        sock.receive_until("socket_intention")
        announced = time.monotonic()
        sock.read_to_end()
        waited = time.monotonic() - announced

    assert 1.5 <= waited <= 5
    assert sock.close_code == 1000
    assert "status" in sock.messages[-1]


def test_images_2_send_batch_indices_0_and_1_with_one_request_id(slow_api):
    with slow_api.generate_ws(images=2) as sock:
        messages = sock.read_to_end()

    images = of_kind(messages, "image")
    assert sorted(message["batch_index"] for message in images) == ["0", "1"]
    assert len({message["request_id"] for message in images}) == 1
    assert len(of_kind(messages, "discard_indices")) == 1
    assert sock.close_code == 1000


def test_second_request_during_the_grace_window_is_served_on_the_same_socket(slow_api):
    with slow_api.generate_ws() as sock:
        sock.receive_until("socket_intention")
        sock.send(slow_api.generation_request(prompt="a dog"))
        messages = sock.read_to_end()

    first, second = of_kind(messages, "image")
    assert second["batch_index"] == "1"
    assert int(second["request_id"]) > int(first["request_id"])
    assert "-a dog-" in second["image"]
    assert len(of_kind(messages, "socket_intention")) == 2
    assert sock.close_code == 1000


def test_invalid_parameter_sends_status_error_socket_intention_status_then_close(slow_api):
    with slow_api.generate_ws(steps=900) as sock:
        messages = sock.read_to_end()

    assert kinds(messages) == ["status", "error", "socket_intention", "status"]
    assert of_kind(messages, "error") == [{"error": STEPS_ERROR}]
    assert sock.close_code == 1000


def test_missing_images_is_one_error_message_then_close(slow_api):
    with slow_api.socket("GenerateText2ImageWS") as sock:
        sock.send({"session_id": slow_api.session_id, "prompt": "a cat"})
        messages = sock.read_to_end()

    assert messages == [{"error": "Missing required parameter 'images'"}]
    assert sock.close_code == 1000


def test_unknown_session_is_one_invalid_session_message_then_close(slow_api):
    with slow_api.socket("GenerateText2ImageWS") as sock:
        sock.send({"session_id": "f" * 40, "images": 1, "prompt": "a cat"})
        messages = sock.read_to_end()

    assert messages == [json.loads(INVALID_SESSION)]
    assert sock.close_code == 1000


def test_session_may_come_from_the_x_session_id_handshake_header(slow_api):
    request = slow_api.generation_request()
    del request["session_id"]

    with slow_api.socket(
        "GenerateText2ImageWS", headers={"X-Session-ID": slow_api.session_id}
    ) as sock:
        sock.send(request)
        messages = sock.read_to_end()

    assert len(of_kind(messages, "image")) == 1
    assert sock.close_code == 1000


def test_interrupt_all_ends_a_running_generation(slow_api):
    with slow_api.generate_ws(steps=300) as sock:
        sock.receive_until("gen_progress")

        assert slow_api.ok("InterruptAll", other_sessions=False) == {"success": True}

        messages = sock.read_to_end()
    assert of_kind(messages, "image") == []
    assert sock.close_code == 1000
    assert list(slow_api.outputs.rglob("*.png")) == []


def test_client_disconnect_does_not_cancel_the_generation(slow_api):
    with slow_api.generate_ws(steps=20) as sock:
        sock.receive_until("gen_progress")

    saved = wait_until(
        lambda: list(slow_api.outputs.rglob("*.png")), timeout=15, what="the image to be saved"
    )
    assert len(saved) == 1


def test_drop_ws_after_steps_fault_drops_the_connection_without_a_close_frame(slow_api):
    slow_api.set_faults(drop_ws_after_steps=3)

    with slow_api.generate_ws(steps=10) as sock:
        messages = sock.read_to_end()

    assert sock.dropped
    assert sock.close_code is None
    assert of_kind(messages, "gen_progress")
    assert of_kind(messages, "image") == []
    assert slow_api.still_serves()


def test_drop_ws_after_steps_null_turns_the_fault_off(slow_api):
    slow_api.set_faults(drop_ws_after_steps=3)
    slow_api.set_faults(drop_ws_after_steps=None)

    with slow_api.generate_ws(steps=10) as sock:
        messages = sock.read_to_end()

    assert sock.close_code == 1000
    assert len(of_kind(messages, "image")) == 1
