"""The default listening socket: both families where the pod has IPv6, IPv4 where it has not."""

import errno
import socket
from typing import Any

import pytest

from tests import servers
from webhooks.server import main


def _connects(family: socket.AddressFamily, address: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        return client.connect_ex((address, port)) == 0


def test_every_address_means_ipv6_and_ipv4_on_one_socket() -> None:
    port = servers.free_port()
    with main.listening_socket(port) as listener:
        listener.listen()
        assert listener.family == socket.AF_INET6
        assert _connects(socket.AF_INET, "127.0.0.1", port)
        assert _connects(socket.AF_INET6, "::1", port)


@pytest.mark.parametrize("fails", ["socket", "bind"])
@pytest.mark.parametrize("code", [errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL])
def test_a_pod_without_ipv6_listens_on_ipv4(
    monkeypatch: pytest.MonkeyPatch, fails: str, code: int
) -> None:
    """ipv6.disable=1 refuses the socket; disable_ipv6=1 on every interface refuses the bind."""
    real = socket.socket

    class NoIPv6(real):  # type: ignore[misc, valid-type]
        def __init__(self, family: int = -1, *args: Any, **kwargs: Any) -> None:
            if family == socket.AF_INET6 and fails == "socket":
                raise OSError(code, "no IPv6")
            super().__init__(family, *args, **kwargs)

        def bind(self, address: Any) -> None:
            if self.family == socket.AF_INET6:
                raise OSError(code, "no IPv6")
            super().bind(address)

    monkeypatch.setattr(socket, "socket", NoIPv6)
    port = servers.free_port()
    with main.listening_socket(port) as listener:
        listener.listen()
        assert listener.family == socket.AF_INET
        assert listener.getsockname() == ("0.0.0.0", port)
        monkeypatch.setattr(socket, "socket", real)
        assert _connects(socket.AF_INET, "127.0.0.1", port)


def test_another_error_is_not_taken_for_a_missing_ipv6() -> None:
    port = servers.free_port()
    with main.listening_socket(port) as taken:
        taken.listen()
        with pytest.raises(OSError, match="in use") as raised:
            main.listening_socket(port)
        assert raised.value.errno == errno.EADDRINUSE
