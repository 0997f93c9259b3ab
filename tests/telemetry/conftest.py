"""Real Redis and real uvicorn servers, shared with the fleet tests. (The Chromium tests of live
tabs are tests/browser/test_live_tabs.py: one browser per session.)"""

from ..deploys.conftest import app_servers, redis_server  # noqa: F401
from ..store.conftest import s3_env, s3_server, store_url  # noqa: F401
