"""`GET /metrics` (SPEC §10, §11): the node's gauges in Prometheus's text format, for
loopback clients and the networks in `[web] metrics_from`; anyone else gets 403.

Behind a TLS proxy on this machine a request arrives from loopback, so the client
judged is the one the proxy names (web/joining.client_of), never the proxy itself.
"""

from __future__ import annotations

import ipaddress
import os

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from listfed.ops import metrics
from listfed.prometheus import CONTENT_TYPE, render
from listfed.web.forms import client_of
from listfed.web.site import site_of


def allowed(client: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    return any(address in ipaddress.ip_network(n) for n in networks)


def serve(request: Request) -> Response:
    site = site_of(request)
    if not allowed(client_of(request), site.metrics_from):
        raise HTTPException(403)
    with site.reading() as conn:
        families = metrics.collect(conn, site.database, site.clock(), os.getppid())
    return Response(render(families), media_type=CONTENT_TYPE)
