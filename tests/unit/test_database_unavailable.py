"""Which failures a consumer treats as "database unavailable, hold the message" (no retry spent)
and which as a fault of the handler (retried, then dead-lettered)."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy as sa

from shared.amqp.consumer import database_unavailable


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"),
        # No pre-ping: a pooled connection the server closed, found out at its first use.
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),  # 57P01
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),  # 53300
    ],
)
def test_the_connection_failing_is_the_database_unavailable(error: Exception) -> None:
    assert database_unavailable(error)
    wrapped = sa.exc.DBAPIError("SELECT 1", None, error)
    wrapped.__cause__ = error
    assert database_unavailable(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("amount must be positive"),
        TimeoutError(),
        asyncpg.exceptions.QueryCanceledError("statement timeout"),  # 57014: the handler's
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ],
)
def test_a_fault_of_the_handler_is_not(error: Exception) -> None:
    assert not database_unavailable(error)
