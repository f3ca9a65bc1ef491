import trio


async def test_trio_mode() -> None:
    await trio.sleep(0)
