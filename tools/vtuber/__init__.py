"""`vtuber`: the command line of the VTuber API, an HTTP client of it (it never imports the
backend's own code, so it runs anywhere `pip install vtuber-backend` does)."""
