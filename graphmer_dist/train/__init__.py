"""The training engine: one loop for 'single', 'ddp' and 'deepspeed', knowing nothing of Ray.

Public: `train_loop_per_worker(job, hooks)`, `TrainHooks`/`LocalHooks`, `EXIT_PREEMPTED` (75).
"""

from graphmer_dist.train.preemption import EXIT_PREEMPTED

__all__ = ["EXIT_PREEMPTED", "train_loop_per_worker"]


def __getattr__(name: str):
    # Lazy: importing the package (e.g. for EXIT_PREEMPTED) must not pull in torch.
    if name == "train_loop_per_worker":
        from graphmer_dist.train.loop import train_loop_per_worker
        return train_loop_per_worker
    raise AttributeError(name)
