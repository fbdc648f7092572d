"""SideFileReader: a sync's side files are read several at once, a bounded distance ahead of their
use, and handed back in order, each with its bytes or the error reading it raised."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboard.catalogue.sync import SideFileReader, VolumeObject
from dashboard.fleet.volume import VolumeFileMissing, VolumeReader


def side_file(key: str, size: int = 10) -> VolumeObject:
    return VolumeObject(key=key, size=size, etag="", modified_at=None)


def reader_for(endpoint_url: str, bucket: str, **options) -> VolumeReader:
    return VolumeReader(
        endpoint_url=endpoint_url,
        region="us-east-1",
        volume_id=bucket,
        access_key="user_test",
        secret_key="rps_test",
        **options,
    )


@pytest.fixture
def volume_with_side_files(volume_bucket, moto_s3):
    """Six `.swarm.json` files (0 to 5) in moto, and a reader of that volume."""
    bucket, s3 = volume_bucket
    for number in range(6):
        s3.put_object(Bucket=bucket, Key=f"m/{number}.swarm.json", Body=b'{"n": %d}' % number)
    return reader_for(moto_s3.base_url, bucket)


def test_items_come_back_in_order_with_their_bytes_or_the_error(volume_with_side_files):
    def files_of(number: int) -> list[VolumeObject]:
        # 6 and 7 have no file on the volume; 8 has none to read.
        return [] if number == 8 else [side_file(f"m/{number}.swarm.json")]

    with SideFileReader(volume_with_side_files, workers=3, ahead_items=2) as side_files:
        answered = list(side_files.read_ahead(range(9), files_of))

    assert [item for item, _ in answered] == list(range(9))
    assert answered[2][1] == {"m/2.swarm.json": b'{"n": 2}'}
    assert answered[5][1] == {"m/5.swarm.json": b'{"n": 5}'}
    assert isinstance(answered[7][1]["m/7.swarm.json"], VolumeFileMissing)
    assert answered[8][1] == {}


def test_reads_run_at_most_the_given_number_of_items_ahead(volume_with_side_files):
    asked: list[int] = []

    def files_of(number: int) -> list[VolumeObject]:
        asked.append(number)
        return [side_file(f"m/{number % 6}.swarm.json")]

    with SideFileReader(volume_with_side_files, workers=2, ahead_items=3) as side_files:
        answers = side_files.read_ahead(range(12), files_of)
        first, _ = next(answers)
        assert (first, len(asked)) == (0, 4)  # the item handed back and three ahead of it
        for number, _ in answers:
            assert len(asked) <= number + 4
    assert asked == list(range(12))


def test_reads_run_at_most_the_given_number_of_bytes_ahead(volume_with_side_files):
    asked: list[int] = []

    def files_of(number: int) -> list[VolumeObject]:
        asked.append(number)
        return [side_file(f"m/{number}.swarm.json", size=100)]

    with SideFileReader(
        volume_with_side_files, workers=2, ahead_items=100, ahead_bytes=250
    ) as side_files:
        answers = side_files.read_ahead(range(6), files_of)
        next(answers)
        assert len(asked) == 3  # 300 bytes asked for: over the bound, so one is handed back


class HoldingS3(ThreadingHTTPServer):
    """Answers a GET only when `parties` GETs are waiting at the same time: a reader that reads one
    file after another never gets an answer (the barrier breaks and the request fails)."""

    daemon_threads = True

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=10)
        self.served: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(handler):
                self.barrier.wait()
                self.served.append(handler.path)
                body = handler.path.encode()
                handler.send_response(200)
                handler.send_header("Content-Length", str(len(body)))
                handler.send_header("ETag", '"e"')
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def holding_s3():
    server = HoldingS3(parties=4)
    yield server
    server.barrier.abort()
    server.shutdown()
    server.server_close()


def test_files_are_read_concurrently_by_as_many_readers_as_asked(holding_s3):
    reader = reader_for(holding_s3.base_url, "vol-held", max_attempts=1)
    files = [[side_file(f"m/{number}.swarm.json")] for number in range(8)]

    with SideFileReader(reader, workers=4) as side_files:
        answered = [fetched for _, fetched in side_files.read_ahead(files, lambda item: item)]

    # Each answer is the path asked for (path-style addressing): no read failed or got mixed up.
    assert answered == [
        {f"m/{n}.swarm.json": f"/vol-held/m/{n}.swarm.json".encode()} for n in range(8)
    ]
    assert len(holding_s3.served) == 8
