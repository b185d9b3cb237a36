import asyncio, time, tempfile, sys
from martinet.store.database import open_database
from martinet.store.migrate import upgrade
from martinet.store.acceptance import AcceptanceWriter, NewSend, NewMessage
from martinet.store.accounts import AccountStore
from martinet.domain.ids import new_send_id
import uvloop

async def main(sync):
    d = tempfile.mkdtemp()
    db = open_database(f"sqlite:///{d}/x.db", sqlite_synchronous=sync)
    await upgrade(db)
    acc = await AccountStore(db, lambda: 1).create("a", password_hash=None, language="fr", timezone="UTC", lane="x", non_gsm="replace")
    await AccountStore(db, lambda: 1).post(acc.id, 10**12, "topup")
    w = AcceptanceWriter(db); await w.start()
    def mk():
        return NewSend(new_send_id(), acc.id, 1, None, "hello", "GSM-7", 1, 2, None, None, None, None, "x", 1000, [NewMessage("33612345678", "FR", "queued", 1, 1000, 1)])
    async def client(n):
        for _ in range(n): await w.accept(mk())
    t = time.perf_counter()
    await asyncio.gather(*(client(100) for _ in range(64)))
    dt = time.perf_counter() - t
    print(sync, f"{6400/dt:.0f} sends/s")
    await w.stop(); await db.dispose()
uvloop.run(main(sys.argv[1]))
