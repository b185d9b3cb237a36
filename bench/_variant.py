import sys
from bench.harness import gateway, wrk
from bench.accept import body
sync, workers, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
with gateway(workers=workers, synchronous=sync, engine_extra=extra) as gw:
    p = body(gw.token)
    wrk(f"{gw.base}/http/1.6/sendSMS.do", p, seconds=2)
    r = wrk(f"{gw.base}/http/1.6/sendSMS.do", p, seconds=8)
    print(sync, workers, extra, r)
