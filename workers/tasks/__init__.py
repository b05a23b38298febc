"""Thin Celery tasks: unpack ids, call a stage function, turn exceptions into job state or retries."""
