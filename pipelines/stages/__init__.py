"""One module per pipeline stage: plain functions the thin Celery tasks call.

Each stage reads its inputs by id, calls its model backend (passed in, so nothing here imports a
model runtime), writes its outputs to MongoDB and dispatches the next stage. Every stage is safe to
run twice for the same input: it checks what is already stored before doing work.
"""
