#!/usr/bin/env bash
# dapt's Beam stages on Google Cloud Dataflow: sample through tokenize, inputs and run directory in a bucket.
#
#   PROJECT=my-project BUCKET=gs://my-bucket configs/beam/dataflow.sh configs/finance.yaml
#
# Everything after the bare `--` is a standard Beam pipeline option; dapt passes it through untouched.
# The workers need the dapt package: it is shipped as a wheel (--extra_package). dapt has a
# pyproject.toml and no setup.py; Beam >= 2.5x also accepts --setup_file=pyproject.toml (it then builds
# an sdist with `python -m build`, which must be installed where you launch).
#
# Where the data must be: on storage the workers reach. Inputs (curate.sources[].paths) and the run
# directory may be gs:// URLs (pip install 'dapt[gcp]'); the data stages read and write only through Beam's
# filesystems, and workers load the quality model and tokenizer from the run directory. Pre-training then
# runs from a local copy of the run directory (README: Running at scale).
set -euo pipefail

CONFIG=${1:-configs/finance.yaml}
PROJECT=${PROJECT:?set PROJECT to your Google Cloud project}
BUCKET=${BUCKET:?set BUCKET to a gs:// bucket for staging and temporary files}
REGION=${REGION:-us-central1}
# A worker image with dapt's dependencies preinstalled starts in seconds instead of pip-installing torch
# and friends on every worker; build it from apache/beam_python3.11_sdk:2.77.0 (the SDK version must
# match the launcher's apache-beam).
IMAGE=${IMAGE:-}

# 1. The wheel the workers install (no dependencies bundled: they come from the image or pip).
python -m pip wheel --no-deps --wheel-dir dist .
WHEEL=$(ls -t dist/dapt-*.whl | head -n 1)

# 2. The data stages, sample through tokenize, with the run directory in the bucket: each Beam stage is one
#    Dataflow job (n2-standard-8 workers, up to 200, autoscaled on throughput; Runner v2 is Dataflow's runner
#    for Python pipelines; Beam names each job). The quality model and the tokenizers train on the launcher
#    and are written to the bucket, where the workers read them.
RUN_DIR=${RUN_DIR:-$BUCKET/runs/$(basename "$CONFIG" .yaml)}
dapt run "$CONFIG" --run-dir "$RUN_DIR" --until tokenize -- \
  --runner=DataflowRunner \
  --project="$PROJECT" \
  --region="$REGION" \
  --temp_location="$BUCKET/tmp" \
  --staging_location="$BUCKET/staging" \
  --extra_package="$WHEEL" \
  ${IMAGE:+--sdk_container_image="$IMAGE"} \
  --machine_type=n2-standard-8 \
  --max_num_workers=200 \
  --autoscaling_algorithm=THROUGHPUT_BASED \
  --experiments=use_runner_v2

# 3. Pre-training reads local or shared disk: copy the run directory to the training cluster, then
#    `dapt run "$CONFIG" --run-dir runs/<name>` there skips the finished data stages.
echo "data stages done in $RUN_DIR; copy it with: gcloud storage cp -r $RUN_DIR runs/"
