"""Whether DeepSpeed ZeRO-3 partitions a module's parameters.

Under ZeRO-3 a parameter is an empty placeholder outside its module's forward: module hooks gather it
(a collective) when the module runs and hand its gradient to DeepSpeed's reducer. Code that touches
parameters any other way — a compiled graph tracing the hooks, or a parameter summed outside its
module — must know. DeepSpeed marks every parameter it manages with a `ds_id`.
"""

from __future__ import annotations

from torch import nn


def zero3_partitioned(module: nn.Module) -> bool:
    return any(hasattr(p, "ds_id") for p in module.parameters())
