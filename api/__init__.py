"""The HTTP gateway: validates input, stores it, enqueues work by task name, reports status.

It never imports a model runtime; a test checks that importing the app pulls in none.
"""
