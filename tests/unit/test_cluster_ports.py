"""The cluster's free-port probe: a port whose last connection sits in TIME_WAIT is free."""

from __future__ import annotations

import socket

import pytest

from sparkmlops.cluster import HOST, port_free


def _listener(port: int = 0) -> socket.socket:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Spark's servers bind
    server.bind((HOST, port))
    server.listen(1)
    return server


def _leave_in_time_wait() -> int:
    """A server port whose side closed a connection first: that socket stays in TIME_WAIT (~60 s)."""
    server = _listener()
    port = server.getsockname()[1]
    client = socket.create_connection((HOST, port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first, as a stopped Spark master does
    client.close()
    server.close()
    return port


def test_a_port_in_time_wait_is_free_as_it_is_for_the_server():
    port = _leave_in_time_wait()
    with socket.socket() as naive, pytest.raises(OSError):
        naive.bind((HOST, port))  # the old probe: no SO_REUSEADDR, so "in use" for about a minute
    assert port_free(port)
    _listener(port).close()  # and a server really can listen on it now


def test_a_listening_port_is_taken():
    server = _listener()
    try:
        assert not port_free(server.getsockname()[1])
    finally:
        server.close()
