"""kinds — the web server kinds the suite runs, listed in one place.

The `server` fixture is parametrised over stack.SERVERS in this order
(lighttpd, the reference, first).  Adding a kind is a class in its own
module and a line here; importing a module registers nothing.
register_all() is called once by conftest.py and by the bench."""

from harness import pgbouncer_server
from harness import servers_apache_nginx as san
from harness import stack

KINDS = (
    stack.Lighttpd,
    san.ApacheFcgid,
    san.ApacheCgi,
    san.ApacheProxyFcgi,
    san.Nginx,
    pgbouncer_server.LighttpdPgBouncer,
)


def register_all():
    """Fill stack.SERVERS with every kind, in KINDS' order."""
    for cls in KINDS:
        stack.register(cls)
