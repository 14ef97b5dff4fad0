"""run.cpu_allocator: with ``reuse`` a freed large tensor's memory is reused instead of faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from vlkit.common.config import ConfigError
from vlkit.common.cpu_allocator import configure_cpu_allocator

# page faults of a training loop's steady state: the same large activations and gradients allocated and freed
PROBE = """
import resource, sys, torch
from vlkit.common.cpu_allocator import configure_cpu_allocator
print(configure_cpu_allocator(sys.argv[1]))
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 2048), torch.nn.GELU(), torch.nn.Linear(2048, 64))
x = torch.randn(4096, 64)
faults = []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(x).square().mean().backward()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[4:]))
"""


def _faults(setting: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_reuse_removes_the_page_faults_of_a_training_loop() -> None:
    applied, faults_system = _faults("system")
    assert applied == "False" and faults_system > 4 * 16384  # each step faults its 32 MiB activations in again
    applied, faults_reuse = _faults("reuse")
    assert applied == "True" and faults_reuse < faults_system / 10


def test_unknown_setting_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"run.cpu_allocator must be one of reuse, system, got 'fast'"):
        configure_cpu_allocator("fast")
    with pytest.raises(ConfigError, match="capfilt.cpu_allocator"):
        configure_cpu_allocator("fast", "capfilt.cpu_allocator")


def test_accelerator_jobs_leave_malloc_alone_but_still_reject_a_bad_setting() -> None:
    assert configure_cpu_allocator("reuse", device="meta") is False
    with pytest.raises(ConfigError, match="run.cpu_allocator"):
        configure_cpu_allocator("fast", device="meta")
