"""I/O adapters: ASGI and WSGI middleware, static file serving."""
