"""What the bench's client side shares with bench/instant_worker.py: the bare four-hop Celery chain
the orchestration is compared with (its queues and its end marker), and the line that asks for a
two-segment reply.

Apart from bench/instant_worker.py (which pins instant models into the process that imports it),
so the bench's client side can name the chain without loading any of that.
"""

from pipelines.queues import Queue

HOP_QUEUES = [Queue.stt_live_cpu, Queue.llm, Queue.tts, Queue.animation]
HOP_DONE_KEY = "bench:hops:done"
# What a bench's text line says to get a two-segment instant reply (bench/instant_worker.py).
TWO_SEGMENTS = "two segments"
