"""The conventional baseline for ``robolearn bench --compare``: FastAPI + uvicorn + a plain
``ChatKitServer`` subclass on asyncio, with an asyncio psycopg store over the same schema."""
