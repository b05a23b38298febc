"""A killed MongoDB server keeps every write that answered a client.

The embedded server runs with mongod's default durability: no fsync per commit (that tripled the
cost of every progress write), so a killed server may lose the last progress writes, as mongod
with ``j: false`` does; the recovery sweep redoes the stage of a job whose progress stalls
(tests/integration/test_recovery.py). What was promised to a client is written with j:true and
must all be there after SIGKILL.
"""

import os
import signal
from pathlib import Path

from pipelines.jobs import create_job, get_job
from pipelines.settings import Settings
from pipelines.storage import Storage
from tools.stack import Stack

JOBS = 200


def test_sigkilled_mongo_server_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path, pools=[])
    stack.start_mongo()
    try:
        storage = Storage(Settings(mongo_url=stack.mongo_url, mongo_db="durability"))
        accepted = []
        for turn in range(JOBS):
            # A progress write (not journaled) and then an accepted job (journaled), up to the kill.
            storage.jobs.update_one({"_id": "progress"}, {"$set": {"turn": turn}}, upsert=True)
            job = create_job(storage, session_id="s", kind="text", persona="hana", persona_version="1")
            accepted.append(job["_id"])
        os.kill(stack.processes["mongo"].pid, signal.SIGKILL)
        stack.processes["mongo"].wait(timeout=10)
        storage.client.close()

        stack.start_mongo()  # same port, same data directory
        storage = Storage(Settings(mongo_url=stack.mongo_url, mongo_db="durability"))
        found = [get_job(storage, job_id) for job_id in accepted]
        assert all(found), f"{sum(not j for j in found)} of {JOBS} accepted jobs lost"
        progress = storage.jobs.find_one({"_id": "progress"}) or {"turn": -1}
        print(f"the progress write of turn {progress['turn']} of {JOBS - 1} survived the kill")
        storage.client.close()
    finally:
        stack.stop_all()
