#!/usr/bin/env bash
# dapt's Beam stages on an Apache Flink cluster (Beam's portable FlinkRunner).
#
#   FLINK_MASTER=flink-jm:8081 configs/beam/flink.sh configs/legal.yaml
#
# Everything after the bare `--` is a standard Beam pipeline option, passed through untouched. The
# Python SDK harness runs next to each Flink task manager; dapt reaches it as a wheel (--extra_package,
# or --setup_file=pyproject.toml, which Beam builds with `python -m build`).
#
# Where the data must be: on storage every worker reaches. Inputs and the run directory may be s3:// or gs://
# URLs (pip install 'dapt[aws]' / 'dapt[gcp]'; pass --s3_endpoint_url and friends for an S3-compatible store),
# or a path mounted at the same place on the launcher and every worker (NFS, Lustre). Workers load the
# quality model and the tokenizer from the run directory. With the EXTERNAL environment below, the SDK
# workers are pools you start yourself on each worker host (the SDK image's boot hands them the job's
# pipeline options, filesystem credentials included):
#   docker run -d --net=host -v /data:/data apache/beam_python3.11_sdk:2.77.0 --worker_pool   # localhost:50000
# (DOCKER would start containers without your mounts; PROCESS needs the SDK's boot binary on each host.)
set -euo pipefail

CONFIG=${1:-configs/legal.yaml}
FLINK_MASTER=${FLINK_MASTER:?set FLINK_MASTER to the job manager, host:port}
# One subtask per task-manager slot: e.g. 16 task managers x 8 slots.
PARALLELISM=${PARALLELISM:-128}

python -m pip wheel --no-deps --wheel-dir dist .
WHEEL=$(ls -t dist/dapt-*.whl | head -n 1)

# Without network access on the launcher, download the job server jar for your Flink version once and
# add --flink_job_server_jar=/path/to/beam-runners-flink-1.19-job-server-2.77.0.jar.
dapt curate "$CONFIG" -- \
  --runner=FlinkRunner \
  --flink_master="$FLINK_MASTER" \
  --parallelism="$PARALLELISM" \
  --environment_type=EXTERNAL \
  --environment_config=localhost:50000 \
  --extra_package="$WHEEL"

# The whole data side in one go (non-Beam stages run on the launcher, Beam stages on Flink):
#   dapt run "$CONFIG" --until tokenize -- --runner=FlinkRunner --flink_master="$FLINK_MASTER" ...
