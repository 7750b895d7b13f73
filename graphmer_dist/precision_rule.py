"""THE precision rule: which of fp32/bf16/fp16 a device runs, used by the plan, the training loop,
`bench` and `eval` alike.

- bf16 only where the device computes it natively: CUDA compute capability ≥ 8.0, or a CPU with
  avx512_bf16/AMX. Elsewhere bf16 is emulated (slower than fp32 on such CPUs, slower than fp16 on a T4).
- fp16 always with loss scaling (torch.amp.GradScaler); 'auto' picks it on GPUs without bf16 (T4,
  P100, V100). On a CPU fp16 is only taken when asked for: CPU autocast computes it correctly, which
  lets the loss-scaling path of those GPUs run here, but it is no faster than fp32.
- fp32 otherwise.
An explicit choice the device cannot do is refused with a PrecisionError saying why and what to use.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphmer_dist.errors import ConfigError
from graphmer_dist.hardware import BF16_MIN_CAPABILITY, cpu_has_bf16, cpu_has_fp16, find_gpu

PRECISIONS = ("fp32", "bf16", "fp16")
FP16_MIN_CAPABILITY = (6, 0)
"""P100 (6.0) has fast packed fp16; older GPUs (Kepler/Maxwell) run it at a fraction of fp32."""


class PrecisionError(ConfigError):
    """train.precision (or --precision) asks for something this device cannot compute."""


@dataclass(frozen=True, slots=True)
class DeviceCaps:
    accelerator: str
    """'cuda' or 'cpu'."""
    name: str
    compute_capability: tuple[int, int] | None
    bf16: bool
    """bf16 computed natively."""
    fp16: bool
    """fp16 computed natively (GPUs with tensor cores or P100's packed fp16; CPUs with avx512_fp16/AMX-FP16)."""

    def describe(self) -> str:
        cc = self.compute_capability
        return f"the {self.name}" + (f" (compute capability {cc[0]}.{cc[1]})" if cc else "")


def gpu_caps(name: str, compute_capability: tuple[int, int]) -> DeviceCaps:
    known = find_gpu(name)
    fp16 = known.fp16 if known else (compute_capability >= (7, 0) or compute_capability == FP16_MIN_CAPABILITY)
    return DeviceCaps("cuda", name, compute_capability, compute_capability >= BF16_MIN_CAPABILITY, fp16)


def cpu_caps(name: str = "CPU") -> DeviceCaps:
    return DeviceCaps("cpu", name, None, cpu_has_bf16(), cpu_has_fp16())


def device_caps(device) -> DeviceCaps:
    """Capabilities of a live torch.device (this process's GPU via its compute capability, or this CPU)."""
    if device.type == "cuda":
        import torch

        return gpu_caps(torch.cuda.get_device_name(device), torch.cuda.get_device_capability(device))
    return cpu_caps()


def choose_precision(requested: str, caps: DeviceCaps, key: str = "train.precision") -> str:
    """'auto' → the best native precision; an explicit one is checked. Raises PrecisionError."""
    if requested == "auto":
        return "bf16" if caps.bf16 else "fp16" if caps.accelerator == "cuda" and caps.fp16 else "fp32"
    if requested not in PRECISIONS:
        raise PrecisionError(f"{key}={requested!r} is not a precision; use auto, fp32, bf16 or fp16")
    if requested == "bf16" and not caps.bf16:
        if caps.accelerator == "cuda":
            cc = BF16_MIN_CAPABILITY
            why = f"bf16 needs compute capability ≥ {cc[0]}.{cc[1]} and {caps.describe()} lacks it"
            emulated = "torch would emulate it, slower than fp16 with loss scaling"
            fix = "use fp16 (loss scaling) or fp32, or auto, which picks fp16 here"
        else:
            why = f"bf16 needs avx512_bf16 or AMX on a CPU and {caps.describe()} lacks it"
            emulated = "emulated it is slower than fp32"
            fix = "use fp32 (or fp16 to exercise the GPUs' loss-scaling path), or auto, which picks fp32 here"
        raise PrecisionError(f"{key}=bf16: {why} ({emulated}); {fix}.")
    if requested == "fp16" and caps.accelerator == "cuda" and not caps.fp16:
        raise PrecisionError(f"{key}=fp16: {caps.describe()} has no fast fp16 (it needs compute capability ≥ "
                             f"{FP16_MIN_CAPABILITY[0]}.{FP16_MIN_CAPABILITY[1]}); use fp32, or auto.")
    return requested
