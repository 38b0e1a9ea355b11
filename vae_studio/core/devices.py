"""Which torch devices exist here, and turning a user's device name into one (or a clear refusal)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


class DeviceError(ValueError):
    """The device the user asked for is not there; the message says what is."""


@dataclass
class DeviceInfo:
    name: str  # "cpu", "cuda:0", "mps"
    label: str  # "CPU", "cuda:0 (NVIDIA H100)"
    available: bool
    reason: str = ""


def list_devices() -> list[DeviceInfo]:
    """The CPU, every CUDA device and MPS; absent kinds are listed as unavailable with the reason."""
    out = [DeviceInfo("cpu", "CPU", True)]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append(DeviceInfo(f"cuda:{i}", f"cuda:{i} ({torch.cuda.get_device_name(i)})", True))
    else:
        out.append(DeviceInfo("cuda", "CUDA GPU", False, "no CUDA device found by torch"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(DeviceInfo("mps", "Apple GPU (MPS)", True))
    return out


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` -> a torch.device that exists, else DeviceError."""
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise DeviceError(f"device {name!r} is not available: torch finds no CUDA GPU here; use cpu")
        index = 0 if dev.index is None else dev.index
        if index >= n:
            raise DeviceError(f"device {name!r} is not available: there are {n} CUDA device(s), cuda:0..cuda:{n - 1}")
        return torch.device("cuda", index)
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' is not available on this machine; use cpu")
        return dev
    raise DeviceError(f"unsupported device {name!r}; use cpu, cuda, cuda:N or mps")
