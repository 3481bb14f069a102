#!/usr/bin/env bash
# dapt's Beam stages on an Apache Spark cluster (Beam's portable SparkRunner).
#
#   SPARK_MASTER=spark://spark-master:7077 configs/beam/spark.sh configs/medical.yaml
#
# Everything after the bare `--` is a standard Beam pipeline option, passed through untouched. dapt
# reaches the Python SDK workers as a wheel (--extra_package; --setup_file=pyproject.toml also works).
#
# Where the data must be: on storage every worker reaches. Inputs and the run directory may be s3:// or gs://
# URLs (pip install 'dapt[aws]' / 'dapt[gcp]'; pass --s3_endpoint_url and friends for an S3-compatible store),
# or a path mounted at the same place on the launcher and every worker (NFS, Lustre). Workers load the
# quality model and the tokenizer from the run directory. With the EXTERNAL environment below, the SDK
# workers are pools you start yourself on each worker host (the SDK image's boot hands them the job's
# pipeline options, filesystem credentials included):
#   docker run -d --net=host -v /data:/data -v "$PWD/runs":"$PWD/runs" \
#       apache/beam_python3.11_sdk:2.77.0 --worker_pool            # listens on localhost:50000
set -euo pipefail

CONFIG=${1:-configs/medical.yaml}
SPARK_MASTER=${SPARK_MASTER:?set SPARK_MASTER, e.g. spark://spark-master:7077}
# Set SPARK_REST_URL (e.g. http://spark-master:6066) to submit an uber jar through Spark's REST endpoint
# instead of starting a Beam job server on the launcher.
SPARK_REST_URL=${SPARK_REST_URL:-}

python -m pip wheel --no-deps --wheel-dir dist .
WHEEL=$(ls -t dist/dapt-*.whl | head -n 1)

# Without network access on the launcher, add --spark_job_server_jar=/path/to/beam-runners-spark-3-job-server-2.77.0.jar.
dapt curate "$CONFIG" -- \
  --runner=SparkRunner \
  --spark_master_url="$SPARK_MASTER" \
  ${SPARK_REST_URL:+--spark_submit_uber_jar --spark_rest_url="$SPARK_REST_URL"} \
  --environment_type=EXTERNAL \
  --environment_config=localhost:50000 \
  --extra_package="$WHEEL"

# The other Beam stages (select, tokenize) take the same options; or the whole data side at once:
#   dapt run "$CONFIG" --until tokenize -- --runner=SparkRunner --spark_master_url="$SPARK_MASTER" ...
