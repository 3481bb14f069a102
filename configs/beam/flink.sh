#!/usr/bin/env bash
# dapt's Beam stages on an Apache Flink cluster (Beam's portable FlinkRunner).
#
#   FLINK_MASTER=flink-jm:8081 configs/beam/flink.sh configs/legal.yaml
#
# Everything after the bare `--` is a standard Beam pipeline option, passed through untouched. The
# Python SDK harness runs next to each Flink task manager; dapt reaches it as a wheel (--extra_package,
# or --setup_file=pyproject.toml, which Beam builds with `python -m build`).
#
# Where the data must be: curate opens its inputs with local file I/O and writes under the run directory,
# so the inputs and the run directory must be mounted at the same path on the launcher and on every
# task manager (NFS, Lustre, a FUSE mount of your object store). With the EXTERNAL environment below the
# SDK workers are pools you start yourself, with those mounts, on each task-manager host:
#   docker run -d --net=host -v /data:/data -v "$PWD/runs":"$PWD/runs" \
#       apache/beam_python3.11_sdk:2.77.0 --worker_pool            # listens on localhost:50000
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
