"""CapFilt: bootstrap a noisy web dataset with a captioner and an ITM filter (BLIP §3.3).

The job is split into shards so it runs on one machine or many, resumes after a crash without
redoing or duplicating work, and writes the bootstrapped dataset as a json list and/or
webdataset shards together with a report.
"""

from vlkit.capfilt.config import CapFiltConfig, load_capfilt_config
from vlkit.capfilt.job import CapFiltJob, run_capfilt

__all__ = ["CapFiltConfig", "CapFiltJob", "load_capfilt_config", "run_capfilt"]
