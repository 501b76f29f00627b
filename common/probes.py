"""Answers /healthz, /readyz and /metrics before the rest of the middleware.

Load balancers and Prometheus probe over plain HTTP, often with an IP address as Host: these
paths skip the HTTPS redirect, the ALLOWED_HOSTS check, sessions and the access log (a probe every
few seconds would drown the real requests). Nothing else is served this way.
"""

from common import health, metrics

PROBES = {
    "/healthz": health.healthz,
    "/readyz": health.readyz,
    "/metrics": metrics.metrics,
}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
