"""VolumeReader against a real S3 protocol server (moto), as RunPod's volume S3 API is used."""

import pytest

from dashboard.fleet.volume import VolumeError, VolumeFileMissing, VolumeReader, volume_key
from tests.support.processes import free_port


def _reader(url, bucket, **options):
    return VolumeReader(
        endpoint_url=url,
        region="EU-RO-1",
        volume_id=bucket,
        access_key="user_test",
        secret_key="rps_test",
        **options,
    )


def test_reads_a_file_by_its_volume_path(moto_s3, volume_bucket):
    bucket, s3 = volume_bucket
    s3.put_object(Bucket=bucket, Key="SwarmUI/Output/local/raw/a #1.png", Body=b"png-bytes")
    reader = _reader(moto_s3.base_url, bucket)
    assert reader.read("SwarmUI/Output/local/raw/a #1.png") == b"png-bytes"
    assert reader.read("/runpod-volume/SwarmUI/Output/local/raw/a #1.png") == b"png-bytes"


def test_missing_file_is_reported_as_missing(moto_s3, volume_bucket):
    bucket, _ = volume_bucket
    with pytest.raises(VolumeFileMissing, match=r"no file 'nothing\.png'"):
        _reader(moto_s3.base_url, bucket).read("nothing.png")


def test_unreachable_volume_api_is_a_volume_error():
    reader = _reader(f"http://127.0.0.1:{free_port()}", "vol", max_attempts=1)
    with pytest.raises(VolumeError):
        reader.read("x.png")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/runpod-volume/a/b.png", "a/b.png"),
        ("/workspace/a/b.png", "a/b.png"),
        ("a/b.png", "a/b.png"),
        ("/a/b.png", "a/b.png"),
    ],
)
def test_volume_key_strips_mount_points(path, key):
    assert volume_key(path) == key
