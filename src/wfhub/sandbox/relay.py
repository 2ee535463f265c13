"""Inside a sandbox without network: one loopback port that leads to a unix socket.

Run as a script with the sandboxed program's own Python (standard library only, so it needs
nothing of wfhub's inside the sandbox):

    python relay.py PORT SOCKET -- PROGRAM [ARGS...]

It listens on 127.0.0.1:PORT of the sandbox's own network namespace, starts PROGRAM, relays
every connection to SOCKET (bound in from the host, where `bridge.unix_bridge` forwards it to
one address), and exits with PROGRAM's status. The port is bound before PROGRAM starts, so
its first request cannot race the listener. Nothing else is reachable: the namespace has
only its loopback interface.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading

CHUNK = 65536


def pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy one direction until it ends, then pass the end on."""
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def relay(client: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client, path), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: relay.py PORT SOCKET -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    port, path, program = int(argv[0]), argv[1], argv[3:]
    listener = socket.create_server(("127.0.0.1", port))
    threading.Thread(target=serve, args=(listener, path), daemon=True).start()
    return subprocess.call(program)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
