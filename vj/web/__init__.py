"""The remote in a browser (docs/web.md): its server (server.py, session.py), its socket protocol
(protocol.py), the show as it sees it (view.py, written by feed.py), who may open it (access.py),
its page (static/) and a Python client (client.py)."""
