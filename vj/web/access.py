"""Who may open the remote: the address it listens on, its token, and the checks on each request.

On loopback (the default) the page is for this machine only and needs no token; a browser on the
same machine is still kept out of reach of other web sites (the Host and Origin checks below). Beyond
loopback (an explicit host: 0.0.0.0 or a LAN address) every request needs the show's token, printed
with the page's address at start: without it nothing is shown and nothing moves. As the OSC
allow-list does for OSC, it keeps a show out of the hands of whoever else is on the club's WiFi.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from vj.core.errors import VJError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
COOKIE = "vj_token"  # set when the page is opened with ?token=..., so its files and its socket carry it


def parse_address(text: str, flag: str = "--web") -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); a port alone listens on loopback. IPv6 hosts in brackets."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text.strip()
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise VJError(f"{flag} {text!r}: write [HOST:]PORT, e.g. 8080 (this machine only) or 0.0.0.0:8080 (the LAN, "
                      f"with a token)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_for(host: str, fixed: str | None) -> str | None:
    """The token a page needs: a set's own, else a fresh one beyond loopback, else none."""
    if fixed:
        return fixed
    return None if is_loopback(host) else secrets.token_urlsafe(16)


def token_ok(given: str | None, token: str | None) -> bool:
    """No token wanted, or the right one (compared in constant time)."""
    if token is None:
        return True
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def host_ok(host_header: str | None, listening: str, token: str | None) -> bool:
    """On loopback without a token, only a request addressed to this machine by a loopback name is
    served (a web page elsewhere that rebinds its own name to 127.0.0.1 is not)."""
    if token is not None or not is_loopback(listening):
        return True
    if not host_header:
        return False
    name = urlsplit("//" + host_header).hostname or ""
    return is_loopback(name)


def origin_ok(origin: str | None, host_header: str | None) -> bool:
    """A socket opened from a page: that page must be ours (same host and port). Scripts send no Origin."""
    if origin is None:
        return True
    if not host_header:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.lower()


def page_urls(host: str, port: int, token: str | None) -> list[str]:
    """Where to open the page: the address itself, or, listening on every interface, this machine's
    addresses by its name (looked up locally: nothing is sent anywhere)."""
    query = f"/?token={token}" if token else "/"
    hosts = [host]
    if host in ("0.0.0.0", "::", ""):
        hosts = _own_addresses() or ["<this machine's address>"]
    return [f"http://{_bracketed(h)}:{port}{query}" for h in hosts]


def _own_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    found = []
    for info in infos:
        address = info[4][0]
        if address not in found and not is_loopback(address):
            found.append(address)
    return found


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, if the port is taken (before a model loads for nothing)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise VJError(f"web: can't listen on {host}:{port} ({e.strerror}); choose another with --web "
                          f"[HOST:]PORT") from None
