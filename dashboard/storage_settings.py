"""Where media (generated images) live: the STORAGES["default"] entry for the STORAGE_S3_* values.

settings.py reads the variables and calls this once; as a plain function it can be tested with
any set of values.
"""

from __future__ import annotations

FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"


def media_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
    prefix: str = "",
) -> dict:
    """FileSystemStorage (under MEDIA_ROOT) when no bucket is named; else S3 (django-storages).

    Empty values mean "not set": boto3 then uses its own defaults (AWS endpoints, region and
    credential chain).
    """
    bucket = bucket.strip()
    if not bucket:
        return {"BACKEND": FILESYSTEM_BACKEND}
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url.strip() or None,
            "region_name": region.strip() or None,
            "access_key": access_key_id.strip() or None,
            "secret_key": secret_access_key.strip() or None,
            # django-storages refuses a location with a leading slash; "/media/" means "media".
            "location": prefix.strip().strip("/"),
            # Objects stay private (no ACL) and any URL handed out is signed and expires; the
            # pages stream images through membership-checked views anyway.
            "default_acl": None,
            "querystring_auth": True,
            # Never replace an existing object: a name clash gets a suffix instead.
            "file_overwrite": False,
        },
    }
