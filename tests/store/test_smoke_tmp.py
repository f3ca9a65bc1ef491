from datetime import datetime

import attrs
from chatkit.types import ThreadMetadata


@attrs.frozen
class Ctx:
    user_id: str


async def test_roundtrip(store):
    t = ThreadMetadata(id="thr_1", created_at=datetime.now())
    await store.save_thread(t, Ctx("u"))
    assert await store.load_thread("thr_1", Ctx("u")) == t
