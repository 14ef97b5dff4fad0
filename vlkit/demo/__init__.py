"""``vlkit demo``: a gradio page to try BLIP models (optional extra: ``pip install 'vlkit[demo]'``).

:mod:`vlkit.demo.inference` holds the tasks without gradio; :mod:`vlkit.demo.app` builds the page.
"""
