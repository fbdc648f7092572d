#!/usr/bin/env bash
# SwarmDeck GPU worker entrypoint: boot SwarmUI from the network volume, then run the handler.
#
#   start.sh                 SwarmUI, then `$PYTHON -u -m worker.handler` (the RunPod job loop)
#   start.sh CMD [ARGS...]   SwarmUI, then CMD instead of the handler (e.g. `start.sh bash`)
#
# First boot: clones the pinned SwarmUI release into $SWARMUI_DIR on the volume, installs its
# ComfyUI backend with SwarmUI's own launchtools/comfy-install-linux.sh, and writes a headless
# configuration. Later boots reuse all of it. Every variable is documented in worker/README.md.
set -euo pipefail

# The pinned SwarmUI release: tag 0.9.8-Beta,
# https://github.com/mcmonkeyprojects/SwarmUI/releases/tag/0.9.8-Beta. The API behaviour this
# worker relies on was read at 062407c7 (0.9.8.2, shared/reference/swarmui-api.md).
SWARMUI_VERSION="${SWARMUI_VERSION:-0.9.8-Beta}"
SWARMUI_REPO="${SWARMUI_REPO:-https://github.com/mcmonkeyprojects/SwarmUI}"
VOLUME_PATH="${VOLUME_PATH:-/runpod-volume}"
SWARMUI_DIR="${SWARMUI_DIR:-$VOLUME_PATH/SwarmUI}"
SWARMUI_DATA_DIR="${SWARMUI_DATA_DIR:-$SWARMUI_DIR/Data}"
SWARMUI_HOST="${SWARMUI_HOST:-127.0.0.1}"
SWARMUI_PORT="${SWARMUI_PORT:-7801}"
SWARMUI_PID_FILE="${SWARMUI_PID_FILE:-/tmp/swarmui.pid}"
SWARMUI_LOG="${SWARMUI_LOG:-/tmp/swarmui.log}"
SWARMUI_GPU_TYPE="${SWARMUI_GPU_TYPE:-nv}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-1800}"
PYTHON="${PYTHON:-python3}"
WORKER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export VOLUME_PATH SWARMUI_DIR SWARMUI_PID_FILE STARTUP_TIMEOUT
export SWARMUI_API_URL="${SWARMUI_API_URL:-http://127.0.0.1:$SWARMUI_PORT}"
export PYTHONPATH="$WORKER_ROOT${PYTHONPATH:+:$PYTHONPATH}"

log() { printf '[start.sh] %s\n' "$*"; }

die() {
    printf '\n[start.sh] FATAL: %s\n\n' "$*" >&2
    exit 1
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_volume() {
    [ -d "$VOLUME_PATH" ] || die "no network volume at VOLUME_PATH=$VOLUME_PATH. Attach one to the \
endpoint: SwarmUI, its models and its outputs live on it."
    [ -w "$VOLUME_PATH" ] || die "the network volume at $VOLUME_PATH is not writable."
}

check_gpu() {
    # Like worker-comfyui's preflight: a broken driver should fail here, not in the first job.
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        log "WARNING: nvidia-smi not found; cannot check the GPU."
    elif ! nvidia-smi >/dev/null 2>&1; then
        die "nvidia-smi fails: the GPU or its driver is not usable on this machine."
    fi
}

# Serialise first-boot installs when several workers start on one fresh volume.
lock_install() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$VOLUME_PATH/.swarmdeck-install.lock"
        flock 9
    fi
}

unlock_install() {
    if command -v flock >/dev/null 2>&1; then
        flock -u 9
    fi
}

install_swarmui() {
    if [ -f "$SWARMUI_DIR/launch-linux.sh" ]; then
        local installed
        installed="$(cat "$SWARMUI_DIR/.swarmdeck-version" 2>/dev/null || echo unknown)"
        if [ "$installed" = "$SWARMUI_VERSION" ]; then
            log "reusing SwarmUI $installed at $SWARMUI_DIR"
        else
            log "WARNING: $SWARMUI_DIR holds SwarmUI '$installed', this image pins \
'$SWARMUI_VERSION'; reusing the installed one (move it away to reinstall)."
        fi
        return
    fi
    command -v git >/dev/null 2>&1 || die "SwarmUI is not installed at $SWARMUI_DIR and git is \
not available to install it."
    log "first boot: installing SwarmUI $SWARMUI_VERSION from $SWARMUI_REPO into $SWARMUI_DIR"
    local staging="$SWARMUI_DIR.installing.$$"
    rm -rf "$staging"
    git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$SWARMUI_VERSION" \
        "$SWARMUI_REPO" "$staging" || die "cloning SwarmUI $SWARMUI_VERSION from $SWARMUI_REPO failed."
    # SwarmUI reads its version suffix from .git/refs/heads/master (swarmui-api.md §2.1).
    git -C "$staging" checkout --quiet -B master
    echo "$SWARMUI_VERSION" >"$staging/.swarmdeck-version"
    mkdir -p "$SWARMUI_DIR"
    # Merge rather than rename: models may have been uploaded to $SWARMUI_DIR/Models already.
    cp -a "$staging/." "$SWARMUI_DIR/"
    rm -rf "$staging"
}

install_comfyui() {
    local comfy="$SWARMUI_DIR/dlbackend/ComfyUI"
    if [ -f "$comfy/main.py" ]; then
        log "reusing the ComfyUI backend at $comfy"
        return
    fi
    [ -f "$SWARMUI_DIR/launchtools/comfy-install-linux.sh" ] || die "$SWARMUI_DIR has no \
launchtools/comfy-install-linux.sh: this does not look like a SwarmUI install."
    if [ -e "$comfy" ]; then
        log "moving an incomplete ComfyUI install aside"
        mv "$comfy" "$comfy.incomplete.$(date +%s)"
    fi
    log "first boot: installing the ComfyUI backend ($SWARMUI_GPU_TYPE); this takes minutes"
    (cd "$SWARMUI_DIR" && bash launchtools/comfy-install-linux.sh "$SWARMUI_GPU_TYPE") \
        || die "the ComfyUI backend install failed (see the output above)."
    [ -f "$comfy/main.py" ] || die "the ComfyUI install finished without $comfy/main.py."
}

write_config() {
    # What SwarmUI's install page would write, minus the UI (swarmui-api.md §6.3, §8.1).
    mkdir -p "$SWARMUI_DATA_DIR"
    if [ ! -f "$SWARMUI_DATA_DIR/Settings.fds" ]; then
        log "writing $SWARMUI_DATA_DIR/Settings.fds"
        printf 'IsInstalled: true\nInstallDate: %s\nInstallVersion: %s\nLaunchMode: none\n' \
            "$(date +%Y-%m-%d)" "$SWARMUI_VERSION" >"$SWARMUI_DATA_DIR/Settings.fds"
    fi
    if [ ! -f "$SWARMUI_DATA_DIR/Backends.fds" ]; then
        log "writing $SWARMUI_DATA_DIR/Backends.fds (one self-starting ComfyUI backend)"
        {
            printf '0:\n'
            printf '\t%s\n' 'type: comfyui_selfstart' 'title: ComfyUI' 'enabled: true' 'settings:'
            printf '\t\t%s\n' 'StartScript: dlbackend/ComfyUI/main.py' 'AutoUpdate: false' \
                'UpdateManagedNodes: false' 'GPU_ID: 0' 'AutoRestart: true'
        } >"$SWARMUI_DATA_DIR/Backends.fds"
    fi
}

launch_swarmui() {
    if port_in_use "$SWARMUI_PORT"; then
        die "port $SWARMUI_PORT is already in use. SwarmUI would silently move to another port \
and the handler would talk to whatever holds $SWARMUI_PORT. Free it or set SWARMUI_PORT."
    fi
    : >"$SWARMUI_LOG"
    log "launching SwarmUI on $SWARMUI_HOST:$SWARMUI_PORT (log: $SWARMUI_LOG)"
    (cd "$SWARMUI_DIR" && exec bash ./launch-linux.sh --launch_mode none \
        --host "$SWARMUI_HOST" --port "$SWARMUI_PORT" --data_dir "$SWARMUI_DATA_DIR") \
        >>"$SWARMUI_LOG" 2>&1 &
    SWARMUI_PID=$!
    echo "$SWARMUI_PID" >"$SWARMUI_PID_FILE"
    # Mirror SwarmUI's output into the worker log, where RunPod shows it.
    tail -n +1 -F "$SWARMUI_LOG" 2>/dev/null &
}

port_moved() {
    # SwarmUI takes the next free port when its own is busy (Network.PortCanChange, §8.2).
    grep -Eo -m 1 "Port $SWARMUI_PORT was taken, using [0-9]+ instead" "$SWARMUI_LOG" || true
}

fail_moved() {
    kill "$SWARMUI_PID" 2>/dev/null || true
    die "SwarmUI did not get port $SWARMUI_PORT ($1). The handler talks to $SWARMUI_API_URL, so \
this worker would serve nothing. Find what holds port $SWARMUI_PORT or set SWARMUI_PORT."
}

wait_for_swarmui() {
    local deadline=$((SECONDS + ${STARTUP_TIMEOUT%.*})) moved
    while :; do
        moved="$(port_moved)"
        [ -z "$moved" ] || fail_moved "$moved"
        if ! kill -0 "$SWARMUI_PID" 2>/dev/null; then
            tail -n 40 "$SWARMUI_LOG" >&2 || true
            die "SwarmUI exited while starting (its last output is above)."
        fi
        if port_in_use "$SWARMUI_PORT"; then
            moved="$(port_moved)"
            [ -z "$moved" ] || fail_moved "$moved"
            log "SwarmUI is listening on port $SWARMUI_PORT (pid $SWARMUI_PID)"
            return
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "SwarmUI did not open port $SWARMUI_PORT within \
${STARTUP_TIMEOUT}s (STARTUP_TIMEOUT)."
        sleep 0.5
    done
}

main() {
    check_volume
    check_gpu
    lock_install
    install_swarmui
    install_comfyui
    write_config
    unlock_install
    launch_swarmui
    wait_for_swarmui
    if [ "$#" -gt 0 ]; then
        exec "$@"
    fi
    exec "$PYTHON" -u -m worker.handler
}

main "$@"
