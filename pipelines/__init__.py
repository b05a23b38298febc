"""Pipeline logic shared by the API and the workers.

Nothing here imports torch or a model runtime: model-bearing code lives in ``workers``.
"""
