"""Output modes: inline base64, paths on the network volume, keys in a bucket (moto_server)."""

from __future__ import annotations

import base64
from dataclasses import replace

import boto3

from tests.worker.conftest import run_job
from worker.contract import GenerateOutput

JOB = {"prompt": "a lighthouse", "steps": 2, "width": 256, "height": 256}


def fetched(swarmui, image) -> bytes:
    import requests

    return requests.get(f"{swarmui.base_url}/{image.swarm_path}", timeout=5).content


def test_auto_inlines_a_small_result(worker):
    output = GenerateOutput.model_validate(run_job(worker, JOB))
    assert output.output_mode == "inline"
    assert output.images[0].data


def test_auto_switches_to_volume_paths_above_the_cap(make_worker, swarmui):
    worker = make_worker(output_inline_max_bytes=50_000)
    output = GenerateOutput.model_validate(run_job(worker, {**JOB, "images": 2}))
    assert output.output_mode == "volume"
    for image in output.images:
        assert image.type == "volume"
        assert image.data is None
        assert image.path.startswith("SwarmUI/Output/local/raw/")
        on_volume = swarmui.volume / image.path
        assert on_volume.read_bytes() == fetched(swarmui, image)
        assert image.size_bytes == on_volume.stat().st_size


def test_a_job_may_ask_for_a_mode(worker, swarmui):
    output = GenerateOutput.model_validate(run_job(worker, {**JOB, "output_mode": "volume"}))
    assert output.images[0].type == "volume"
    assert (swarmui.volume / output.images[0].path).exists()


def test_inline_mode_ignores_the_cap(make_worker):
    worker = make_worker(output_mode="inline", output_inline_max_bytes=10)
    output = GenerateOutput.model_validate(run_job(worker, JOB))
    assert output.output_mode == "inline"
    assert base64.b64decode(output.images[0].data).startswith(b"\x89PNG")


def test_unsaved_images_are_copied_to_the_volume(make_worker, swarmui):
    worker = make_worker(output_mode="volume")
    result = run_job(worker, {**JOB, "donotsave": True}, id="job-unsaved")
    (image,) = GenerateOutput.model_validate(result).images
    assert image.path == f"swarmdeck-outputs/job-unsaved/{image.filename}"
    assert image.filename == "job-unsaved-0.png"
    assert (swarmui.volume / image.path).read_bytes().startswith(b"\x89PNG")
    assert image.swarm_path is None


def test_bucket_mode_uploads_and_returns_keys(make_worker, moto_s3, swarmui):
    worker = make_worker(output_mode="bucket", bucket=moto_s3)
    result = run_job(worker, {**JOB, "images": 2}, id="job-b1")
    output = GenerateOutput.model_validate(result)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for image in output.images:
        assert image.type == "bucket"
        assert image.bucket == "swarmdeck-outputs"
        assert image.key == f"jobs/job-b1/{image.filename}"
        stored = s3.get_object(Bucket=image.bucket, Key=image.key)
        assert stored["ContentType"] == "image/png"
        assert stored["Body"].read() == fetched(swarmui, image)


def test_a_jobs_s3_config_overrides_the_bucket(make_worker, moto_s3):
    worker = make_worker(output_mode="bucket", bucket=replace(moto_s3, name="unused"))
    s3_config = {
        "bucketName": moto_s3.name,
        "accessId": "testing",
        "accessSecret": "testing",
        "endpointUrl": moto_s3.endpoint_url,
    }
    result = run_job(worker, JOB, id="job-s3", s3Config=s3_config)
    assert result["images"][0]["bucket"] == moto_s3.name


def test_auto_without_a_volume_falls_back_to_the_bucket(make_worker, moto_s3, tmp_path):
    worker = make_worker(
        output_inline_max_bytes=1000, volume_path=tmp_path / "no-volume", bucket=moto_s3
    )
    assert run_job(worker, JOB)["output_mode"] == "bucket"


def test_auto_without_a_volume_or_bucket_explains_what_to_set(make_worker, tmp_path):
    worker = make_worker(output_inline_max_bytes=1000, volume_path=tmp_path / "no-volume")
    error = run_job(worker, JOB)["error"]
    assert "above the inline cap" in error
    assert "OUTPUT_INLINE_MAX_MB" in error
    assert "VOLUME_PATH" in error
    assert "BUCKET_NAME" in error


def test_bucket_failures_are_reported(make_worker, moto_s3):
    worker = make_worker(output_mode="bucket", bucket=replace(moto_s3, name="no-such-bucket"))
    error = run_job(worker, JOB)["error"]
    assert error.startswith("uploading jobs/")
    assert "no-such-bucket" in error
