import subprocess, sys, time, threading
from bench.harness import gateway, wrk
from bench.accept import body
with gateway(workers=2, engine_extra="poll_interval = 9.0\nbatch_size = 1") as gw:
    p = body(gw.token)
    t = threading.Thread(target=wrk, args=(f"{gw.base}/http/1.6/sendSMS.do", p), kwargs={"seconds": 8})
    t.start(); time.sleep(2)
    pids = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True).stdout.split()
    print(pids)
    subprocess.run([".venv/bin/py-spy", "record", "-p", pids[-1], "-d", "4", "-f", "raw", "-o", "/tmp/prof.txt", "-r", "200"], capture_output=True)
    t.join()
