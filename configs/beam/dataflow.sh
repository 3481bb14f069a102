#!/usr/bin/env bash
# dapt's Beam stages on Google Cloud Dataflow: curate (and, with the same options, select and tokenize).
#
#   PROJECT=my-project BUCKET=gs://my-bucket configs/beam/dataflow.sh configs/finance.yaml
#
# Everything after the bare `--` is a standard Beam pipeline option; dapt passes it through untouched.
# The workers need the dapt package: it is shipped as a wheel (--extra_package). dapt has a
# pyproject.toml and no setup.py; Beam >= 2.5x also accepts --setup_file=pyproject.toml (it then builds
# an sdist with `python -m build`, which must be installed where you launch).
#
# Where the data must be: the curate readers open inputs with local file I/O and the run directory is a
# local path, so every worker must see the inputs and the run directory at the same path. Dataflow
# workers do not share a filesystem with the launcher: bake read-only inputs into a custom worker image
# (--sdk_container_image) or run on Flink/Spark with a shared mount (flink.sh, spark.sh). Reading
# gs:// inputs needs the readers to go through apache_beam.io.filesystems (reported to the maintainers).
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

# 2. The job: n2-standard-8 workers, up to 200 of them, autoscaled on throughput; Runner v2 is
#    Dataflow's runner for Python pipelines.
dapt curate "$CONFIG" -- \
  --runner=DataflowRunner \
  --project="$PROJECT" \
  --region="$REGION" \
  --temp_location="$BUCKET/tmp" \
  --staging_location="$BUCKET/staging" \
  --job_name="dapt-curate-$(date +%Y%m%d-%H%M%S)" \
  --extra_package="$WHEEL" \
  ${IMAGE:+--sdk_container_image="$IMAGE"} \
  --machine_type=n2-standard-8 \
  --max_num_workers=200 \
  --autoscaling_algorithm=THROUGHPUT_BASED \
  --experiments=use_runner_v2

# The other Beam stages take the same options (the quality model and the tokenizer train locally):
#   dapt run "$CONFIG" --until quality                 # curate is cached; trains the quality model
#   dapt select "$CONFIG" -- --runner=DataflowRunner ... (same options as above)
#   dapt tokenizer train "$CONFIG"
#   dapt tokenize "$CONFIG" -- --runner=DataflowRunner ...
