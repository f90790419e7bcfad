"""``/healthz`` and ``/metrics`` of the running bot."""
