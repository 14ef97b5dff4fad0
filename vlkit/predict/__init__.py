"""Bulk prediction: ``vlkit predict caption|vqa|itm|embed|classify`` over a folder, a json list or tar shards.

See docs/predict.md. The pieces: :mod:`~vlkit.predict.inputs` (what is read), :mod:`~vlkit.predict.verbs`
(what is computed), :mod:`~vlkit.predict.writer` (resumable outputs), :mod:`~vlkit.predict.runner` (the loop).
"""
