"""Which failed MLflow requests mlspec sends again: a server too busy to start one (always), one lost in transit
(writes only through `retry`, after asking whether it landed), and never an answer that refused it."""

from __future__ import annotations

import pytest

from mlspec.runtime import mlflow_server
from mlspec.runtime.errors import RegistryError
from mlspec.runtime.mlflow_server import Connection, Target


class RefusedError(Exception):
    """An exception shaped like MLflow's: a message and an error code."""

    def __init__(self, text: str, error_code: str = "") -> None:
        super().__init__(text)
        self.error_code = error_code


BUSY = RefusedError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00", "BAD_REQUEST")
LOST = type("ConnectionError", (Exception,), {})("Connection reset by peer")
DENIED = RefusedError("Permission denied", "PERMISSION_DENIED")


class Client:
    """Answers with the given failures, in order, then with 'done'; counts the requests."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures, self.sent = list(failures), 0

    def get_thing(self) -> str:
        self.sent += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mlflow_server.time, "sleep", lambda seconds: None)

    def make(client: Client) -> Connection:
        conn = Connection(Target("http://x", "http://x", "mlflow+http://x"))
        conn._client = client
        return conn
    return make


@pytest.mark.parametrize("send", ["call", "retry"])
def test_a_busy_server_is_asked_again_until_it_answers(connect, send: str) -> None:
    client = Client(BUSY, BUSY, BUSY)
    assert getattr(connect(client), send)("read", "get_thing") == "done"
    assert client.sent == 4


def test_a_server_busy_for_too_long_is_an_error_that_says_what_failed(connect) -> None:
    client = Client(*[BUSY] * 20)
    with pytest.raises(RegistryError, match="could not read the MLflow registry mlflow\\+http://x: QueuePool"):
        connect(client).call("read", "get_thing")
    assert client.sent == mlflow_server._BUSY_RESENDS + 1


def test_a_lost_request_is_sent_again_only_by_retry_and_not_when_it_landed(connect) -> None:
    with pytest.raises(RegistryError):
        connect(Client(LOST)).call("read", "get_thing")
    client = Client(LOST, LOST)
    assert connect(client).retry("write", "get_thing") == "done"
    assert client.sent == 3
    client = Client(LOST)
    assert connect(client).retry("write", "get_thing", landed=lambda: "it landed") == "it landed"
    assert client.sent == 1


@pytest.mark.parametrize("send", ["call", "retry"])
def test_a_refusal_is_never_sent_again(connect, send: str) -> None:
    client = Client(DENIED)
    with pytest.raises(RegistryError) as raised:
        getattr(connect(client), send)("register into", "get_thing")
    assert client.sent == 1
    assert "MLFLOW_TRACKING_TOKEN" in raised.value.hint


def test_a_write_the_server_called_busy_is_not_sent_again_when_it_landed(connect) -> None:
    # MLflow answers "busy" when a late step of a request (its webhooks lookup) finds the pool full, after the
    # version was created: sending the creation again would make a second version of the same artifact
    client = Client(BUSY)
    assert connect(client).retry("register", "get_thing", landed=lambda: "version 1") == "version 1"
    assert client.sent == 1
