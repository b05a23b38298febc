"""Celery workers: the stage tasks and the model backends they run."""
