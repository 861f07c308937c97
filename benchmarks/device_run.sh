#!/usr/bin/env bash
# The prepared run on a lent GPU machine (see benchmarks/device_run.py):
#   bash benchmarks/device_run.sh BUNDLE OUT [MINUTES]
# installs the bundle's wheels (no network there) beside the image's packages, then runs.
set -euo pipefail
bundle=${1:?bundle folder, made by: python benchmarks/device_run.py prepare BUNDLE}
out=${2:?output folder}
minutes=${3:-4}
if compgen -G "$bundle/wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$bundle"/wheels/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 benchmarks/device_run.py run "$bundle" "$out" --minutes "$minutes"
