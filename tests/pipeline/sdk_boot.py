"""A minimal Beam SDK-container boot for the external worker pool, as Dataflow's, Flink's and Spark's are.

`worker_pool_main` alone starts each SDK harness bare, so workers never see the job's pipeline options and
Beam's S3 or GCS filesystem has no endpoint or credentials there. A real container's boot asks the runner's
provision service for the options and starts `sdk_worker_main` with them; this does the same (the package
is installed in the environment already, so there are no artifacts to fetch).
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from google.protobuf import json_format, text_format

from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc, endpoints_pb2


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--id", "--logging_endpoint", "--artifact_endpoint", "--provision_endpoint", "--control_endpoint"):
        parser.add_argument(flag, required=flag != "--artifact_endpoint")
    args, _ = parser.parse_known_args()
    with grpc.insecure_channel(args.provision_endpoint) as channel:
        info = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel).GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(), metadata=[("worker_id", args.id)]
        ).info

    def descriptor(url: str) -> str:
        return text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url))

    env = {
        **os.environ,
        "WORKER_ID": args.id,
        "PIPELINE_OPTIONS": json_format.MessageToJson(info.pipeline_options),
        "CONTROL_API_SERVICE_DESCRIPTOR": descriptor(args.control_endpoint),
        "LOGGING_API_SERVICE_DESCRIPTOR": descriptor(args.logging_endpoint),
    }
    os.execve(sys.executable, [sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"], env)


if __name__ == "__main__":
    main()
