"""Route introspection the framework does not offer: every method a path answers.

Starlette answers 405 with the `Allow` of the one route it matched, but `/projects` is two
routes (GET and POST), so its `Allow` would be wrong. This computes the union once per app.
"""

from __future__ import annotations

import re
from functools import cache

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every API route, included routers flattened."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            found.append((context.path, route))
    return found


@cache
def _patterns(app: FastAPI) -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    return tuple(
        (compile_path(path)[0], frozenset(route.methods or ())) for path, route in api_routes(app)
    )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route answers at `path`, sorted."""
    methods: set[str] = set()
    for pattern, route_methods in _patterns(app):
        if pattern.match(path):
            methods |= route_methods
    return sorted(methods)
