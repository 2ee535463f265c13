"""Property-based fuzzing of every operation in the OpenAPI schema against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import separate_database
from tests.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow
UVICORN_REJECTION = "Invalid HTTP request received."


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("fuzz")
    # Only SSH restarts, which are not configured: every fuzzed restart request is validated
    # and refused (409) instead of restarting the model server a hundred times; restarts
    # themselves are tested in tests/test_ops_*.py.
    with (
        separate_database(database_url, folder) as url,
        live_server(folder / "home", url, restart_methods="ssh") as live,
    ):
        yield live


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(
        f"{server.url}/openapi.json", headers={"Authorization": f"Bearer {server.token}"}
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_or_breaks_its_schema(case: Any, server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    response = case.call(headers=auth)
    if response.status_code == 400 and response.text == UVICORN_REJECTION:
        # The fuzzer also makes up headers; one like `Content-Length: .M*N` is refused by
        # uvicorn's HTTP parser before the request reaches wfhub, in uvicorn's plain text.
        return
    # Two checks are left out, each for behaviour that is right:
    # - positive_data_acceptance: a schema-valid body naming a node id that does not exist,
    #   or holding a control character, is refused with 422;
    # - negative_data_rejection: an oversized body gets 413 (not in that check's list), and
    #   unknown query parameters are ignored, as HTTP APIs conventionally do.
    case.validate_response(
        response,
        headers=auth,
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
        ],
    )
