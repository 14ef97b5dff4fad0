"""Pipelines: chains of project configs whose outputs feed the next stage (``vlkit run``)."""

from vlkit.pipelines.pipeline import Pipeline, PipelineConfig, StageConfig, load_pipeline

__all__ = ["Pipeline", "PipelineConfig", "StageConfig", "load_pipeline"]
