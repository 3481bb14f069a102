#!/bin/bash
# Multi-node pre-training under Slurm with torchrun (one launcher per node, 8 GPUs each).
#   sbatch configs/slurm_pretrain.sh configs/tiny.yaml --run.dir /shared/runs/fin-125m
# torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; the trainer reads them.
#SBATCH --job-name=dapt-pretrain
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=48:00:00
#SBATCH --output=logs/%x-%j.out
#SBATCH --requeue
set -euo pipefail

CONFIG=${1:?usage: sbatch configs/slurm_pretrain.sh CONFIG [--overrides...]}
shift
GPUS_PER_NODE=${SLURM_GPUS_ON_NODE:-8}
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MASTER_PORT=${MASTER_PORT:-29500}
export OMP_NUM_THREADS=8
export NCCL_ASYNC_ERROR_HANDLING=1

# --requeue + the trainer's resume: a preempted or failed job restarts from the latest checkpoint.
srun --kill-on-bad-exit=1 torchrun \
    --nnodes "$SLURM_NNODES" --nproc_per_node "$GPUS_PER_NODE" \
    --rdzv_id "$SLURM_JOB_ID" --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" \
    "$(which dapt)" pretrain "$CONFIG" "$@"
