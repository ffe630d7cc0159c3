"""Case codes from concurrent transactions on PostgreSQL: the first code of a prefix and year
is where two instances (or two requests of one) race to create the counter row."""

from __future__ import annotations

import asyncio

from storage import db, migrate
from storage.cases import next_code


async def test_concurrent_first_codes_of_a_year_are_all_issued(pg_url: str) -> None:
    engine = db.create_engine(pg_url, pool_size=10)
    try:
        await migrate.upgrade(engine)
        session = db.sessionmaker(engine)
        start = asyncio.Event()

        async def create() -> str:
            async with session() as s, s.begin():
                await start.wait()  # every transaction open before any takes a code
                return await next_code(s, "HY", 2027)

        tasks = [asyncio.create_task(create()) for _ in range(10)]
        await asyncio.sleep(0.5)
        start.set()
        codes = await asyncio.gather(*tasks)
        assert sorted(codes) == [f"HY-2027-{n:04d}" for n in range(1, 11)]
    finally:
        await engine.dispose()
