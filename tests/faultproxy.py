"""A TCP proxy between the service and PostgreSQL that injects the network faults of issue 10, for a stated time:

- `drop`: every byte sent during the fault, either way, is lost without a word; the connections stay open, so a
  request or an answer in flight is never delivered and its peer waits until one of its own timeouts fires;
- `blackhole`: the same, and the connections open when the fault starts are forgotten by the network: once it is
  back, they are reset (a NAT or firewall answering a flow it no longer knows); new connections wait meanwhile;
- `reset`: open connections are reset at once (RST) and new ones refused during the fault.

`arm(mode, seconds, trigger=b"FOR UPDATE")` starts the fault right after the next client message that holds
`trigger` has been forwarded: between the chain head's lock and its commit, the worst moment of a write.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._until = 0.0  # monotonic end of the current fault
        self._mode: str | None = None
        self._doomed: set[int] = set()  # ids of the pairs a blackhole loses
        self._trigger: tuple[bytes, str, float] | None = None
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    # -- faults ---------------------------------------------------------------------------------------------
    def fault(self, mode: str, seconds: float) -> None:
        assert mode in ("drop", "blackhole", "reset")
        with self._lock:
            self._mode, self._until = mode, time.monotonic() + seconds
            pairs = list(self._pairs)
            if mode == "blackhole":
                self._doomed |= {id(pair) for pair in pairs}
        if mode == "reset":
            for pair in pairs:
                self._drop_pair(pair, rst=True)

    def arm(self, mode: str, seconds: float, trigger: bytes = b"FOR UPDATE") -> None:
        with self._lock:
            self._trigger = (trigger, mode, seconds)

    def faulty(self) -> bool:
        return time.monotonic() < self._until

    def wait_healed(self) -> None:
        while self.faulty():
            time.sleep(0.01)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for pair in list(self._pairs):
            self._drop_pair(pair, rst=False)

    # -- plumbing -------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._mode == "reset" and self.faulty():
            self._reset(client)
            return
        self.wait_healed()  # a connection attempt during an outage waits for the network (or its own timeout)
        try:
            upstream = socket.create_connection(self._upstream, timeout=3)
        except OSError:
            client.close()
            return
        pair = (client, upstream)
        with self._lock:
            self._pairs.append(pair)
        try:
            self._pump(pair)
        finally:
            self._drop_pair(pair, rst=False)

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        while True:
            if id(pair) in self._doomed and not self.faulty():
                self._drop_pair(pair, rst=True)
                return
            try:
                ready, _, _ = select.select([client, upstream], [], [], 0.05)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    if id(pair) in self._doomed or (self.faulty() and self._mode in ("drop", "blackhole")):
                        continue  # lost in the network
                    peer[src].sendall(data)
                    if src is client:
                        self._maybe_trigger(data)
            except (OSError, ValueError):  # a socket closed under us (a reset, the proxy closing)
                return

    def _maybe_trigger(self, data: bytes) -> None:
        with self._lock:
            armed = self._trigger
            if armed is None or armed[0] not in data:
                return
            self._trigger = None
        self.fault(armed[1], armed[2])

    def _drop_pair(self, pair: tuple[socket.socket, socket.socket], *, rst: bool) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
            self._doomed.discard(id(pair))
        for s in pair:
            if rst:
                self._reset(s)
            else:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    @staticmethod
    def _reset(s: socket.socket) -> None:
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends RST
        s.close()
