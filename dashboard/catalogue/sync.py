"""Walk a network volume over its S3 API one folder at a time (runpod.md §7).

RunPod's S3 repeats continuation tokens on recursive listings (runpod-python#505), lists empty
directories as objects, shows its multipart staging folder, and answers 502s under load. So each
folder is listed with `Delimiter='/'`, pages are followed until a token repeats (the folder is
then reported incomplete and the walk goes on), directory markers and the staging folder are
skipped, and 5xx answers are retried by boto3 (VolumeReader's retry config).

The walk keeps only one folder's objects at a time, and only for folders that may hold models;
every other folder only adds to the usage totals. Side files are read by SideFileReader: a few at
once, a little ahead of their use, so that a sync costs little more than the listing and the reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from dashboard.catalogue import inventory
from dashboard.fleet.volume import VolumeError, VolumeReader

PAGE_SIZE = 1000  # RunPod does not document its page size; S3's default (§7)
# Side files (`.swarm.json`, previews) read at once: each GET waits on the network far longer than
# it costs us, and boto3 clients are thread-safe. Bounded so that RunPod's S3 is not flooded; with
# the listing's own request, within botocore's default pool of 10 connections.
SIDE_FILE_READERS = 8
# How far reads may run ahead of their use: what a sync holds in memory beyond one folder's listing.
READ_AHEAD_ITEMS = 4 * SIDE_FILE_READERS
READ_AHEAD_BYTES = 32 * 2**20

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VolumeObject:
    key: str
    size: int
    etag: str
    modified_at: datetime | None

    @property
    def version(self) -> str:
        """What changes when the file does. Files written by pods or workers have no cached
        ETag on RunPod (§7), so size and time stand in for it."""
        if self.etag:
            return self.etag
        stamp = self.modified_at.timestamp() if self.modified_at else 0
        return f"{self.size}@{stamp:.0f}"


@dataclass
class FolderListing:
    prefix: str
    objects: list[VolumeObject]  # empty unless the folder may hold models
    complete: bool  # False: listing stopped early; what is missing from it is unknown


@dataclass
class WalkError:
    prefix: str
    message: str


class WalkAborted(Exception):
    """The volume cannot be listed at all (its root failed)."""


@dataclass
class VolumeWalk:
    """`for listing in walk.folders(): ...`; afterwards `usage`, `errors`, counters."""

    reader: VolumeReader
    page_size: int = PAGE_SIZE
    on_page: Callable[[VolumeWalk, str], None] | None = None
    usage: dict[str, list[int]] = field(default_factory=dict)  # folder → [bytes, files]
    incomplete_usage: set[str] = field(default_factory=set)
    errors: list[WalkError] = field(default_factory=list)
    objects_listed: int = 0
    folders_listed: int = 0

    @property
    def complete(self) -> bool:
        return not self.errors

    def folders(self) -> Iterator[FolderListing]:
        """Every folder of the volume, depth first in name order."""
        pending = [""]
        while pending:
            prefix = pending.pop()
            listing, subfolders = self._list(prefix)
            self.folders_listed += 1
            pending.extend(sorted(subfolders, reverse=True))
            yield listing

    def _list(self, prefix: str) -> tuple[FolderListing, set[str]]:
        keep = inventory.subtype_of_folder(prefix) is not None
        objects: list[VolumeObject] = []
        subfolders: set[str] = set()
        seen_tokens: set[str] = set()
        token = None
        while True:
            try:
                page = self.reader.list_folder(
                    prefix, continuation_token=token, max_keys=self.page_size
                )
            except VolumeError as exc:
                if not prefix:
                    raise WalkAborted(str(exc)) from exc
                return self._stopped(prefix, objects, subfolders, str(exc))
            for entry in page.get("CommonPrefixes") or ():
                sub = entry.get("Prefix", "")
                # Only strictly deeper folders: a server that lists the folder itself must not loop.
                deeper = sub.startswith(prefix) and len(sub) > len(prefix)
                if deeper and not inventory.is_staging_folder(sub):
                    subfolders.add(sub)
            for entry in page.get("Contents") or ():
                key = entry["Key"]
                if key.endswith("/"):  # an empty directory, listed as an object (§7)
                    continue
                size = int(entry.get("Size") or 0)
                self.objects_listed += 1
                for folder in inventory.usage_folders(key):
                    totals = self.usage.setdefault(folder, [0, 0])
                    totals[0] += size
                    totals[1] += 1
                if keep:
                    objects.append(
                        VolumeObject(
                            key=key,
                            size=size,
                            etag=str(entry.get("ETag") or "").strip('"'),
                            modified_at=entry.get("LastModified"),
                        )
                    )
            if self.on_page:
                self.on_page(self, prefix)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated"):
                return FolderListing(prefix, objects, complete=True), subfolders
            if not token:
                return self._stopped(
                    prefix, objects, subfolders, "the listing was cut short without a next token"
                )
            if token in seen_tokens:
                return self._stopped(
                    prefix,
                    objects,
                    subfolders,
                    "RunPod's S3 sent the same continuation token twice (runpod-python#505)",
                )
            seen_tokens.add(token)

    def _stopped(
        self, prefix: str, objects: list[VolumeObject], subfolders: set[str], reason: str
    ) -> tuple[FolderListing, set[str]]:
        self.errors.append(
            WalkError(prefix, f"{reason}; the rest of {prefix} was not read this time.")
        )
        # Every usage folder this one counts in is now short of an unknown amount.
        self.incomplete_usage.update(inventory.usage_folders(prefix + "?"))
        return FolderListing(prefix, objects, complete=False), subfolders


class SideFileReader:
    """Reads files of a volume in a bounded pool of threads (a boto3 client is thread-safe), ahead
    of their use: `read_ahead(items, files_of)` gives back each item in order with the bytes of its
    files, or the VolumeError reading one of them raised. Use it as a context manager."""

    def __init__(
        self,
        reader: VolumeReader,
        *,
        workers: int = SIDE_FILE_READERS,
        ahead_items: int = READ_AHEAD_ITEMS,
        ahead_bytes: int = READ_AHEAD_BYTES,
    ):
        self._reader = reader
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="side-files")
        self._ahead_items = ahead_items
        self._ahead_bytes = ahead_bytes

    def __enter__(self) -> SideFileReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def read_ahead(
        self, items: Iterable[T], files_of: Callable[[T], Iterable[VolumeObject]]
    ) -> Iterator[tuple[T, dict[str, bytes | VolumeError]]]:
        window: deque[tuple[T, dict[str, Future], int]] = deque()  # (item, its reads, bytes)
        pending_bytes = 0
        for item in items:
            files = list(files_of(item))
            futures = {obj.key: self._pool.submit(self._read, obj.key) for obj in files}
            size = sum(obj.size for obj in files)
            window.append((item, futures, size))
            pending_bytes += size
            while len(window) > self._ahead_items or pending_bytes > self._ahead_bytes:
                pending_bytes -= window[0][2]
                yield self._answer(window.popleft())
        while window:
            yield self._answer(window.popleft())

    @staticmethod
    def _answer(
        entry: tuple[T, dict[str, Future], int],
    ) -> tuple[T, dict[str, bytes | VolumeError]]:
        item, futures, _ = entry
        return item, {key: future.result() for key, future in futures.items()}

    def _read(self, key: str) -> bytes | VolumeError:
        try:
            return self._reader.read(key)
        except VolumeError as exc:
            return exc
