"""Wire and storage contracts shared by the API, the workers and the clients.

This package imports nothing else from the project: it is the one place every other part agrees on.
"""
