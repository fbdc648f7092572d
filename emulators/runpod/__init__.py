"""A local, protocol-faithful stand-in for RunPod serverless (see docs/emulators.md).

It serves the public job API (`/v2/{endpoint}/...`), the REST v2 endpoint-management API
(`/v2/serverless/...`) and the worker-facing job protocol (`/job-take/`, `/job-done/`, ...), and
spawns real worker processes so the runpod SDK's own job loop runs the handler. The facts it
implements are in shared/reference/runpod.md; section numbers in comments (§1.3, §3.3, ...) point
there.
"""
