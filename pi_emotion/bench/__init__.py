"""``pi-emotion bench``: the pipeline's speed, CPU, memory and long-run stability, measured as numbers.

``cli`` parses the command and picks a measurement; ``pipeline`` holds what every
measurement shares (process figures, a served pipeline); ``speed``, ``stream``,
``soak`` and ``integrations`` (MQTT, /metrics, report) each measure one thing. Nothing
here imports the package's ``__init__``.
"""
