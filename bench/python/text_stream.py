"""The text stream of issue 18's benchmark, both ends python websockets (its sync API, as its
docs show; compression on by default, as in every browser): the same messages as
wsduplex_bench::text_stream, the same exchange (a final END, the server's total, a close).

    python3 bench/python/text_stream.py [messages] [runs]

Needs websockets (pip install websockets==17.4, or PYTHONPATH=<target>/tmp/websockets-17.4).
"""

import resource
import socket
import struct
import sys
import threading
import time

from websockets.sync.client import connect
from websockets.sync.server import serve

LINES = 12


def message(i):
    out = []
    for j in range(i * LINES, (i + 1) * LINES):
        side = "sell" if j % 3 == 0 else "buy"
        out.append('{"seq":%d,"symbol":"SYM%d","price":%d.%02d,"qty":%d,"side":"%s"}\n'
                   % (j, j % 50, 100 + (j * 7) % 997, j % 100, (j * 13) % 1000, side))
    return "".join(out)


def bytes_acked(sock):
    """What the client's socket sent and the server acknowledged (frames with their headers,
    and the handshake): tcpi_bytes_acked of Linux's TCP_INFO."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from("Q", info, 120)[0]


def handler(ws):
    total = 0
    for m in ws:
        if m == "END":
            ws.send("got %d" % total)
        else:
            total += len(m.encode())


def run(texts):
    with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.socket.getsockname()[1]
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        with connect("ws://127.0.0.1:%d/" % port, max_size=None) as ws:
            total = sum(len(x.encode()) for x in texts)
            for x in texts:
                ws.send(x)
            ws.send("END")
            reply = ws.recv()
            assert reply == "got %d" % total, reply
            negotiated = [type(e).__name__ for e in ws.protocol.extensions]
            wire = bytes_acked(ws.socket)
        server.shutdown()
    return total, wire, negotiated


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    texts = [message(i) for i in range(n)]
    for _ in range(runs):
        start = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        total, wire, negotiated = run(texts)
        elapsed = time.perf_counter() - start
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print("python websockets %s: %d msgs in %.3f s, %.0f msgs/s, payload %d B, wire %d B (%.3f), CPU %.4f s/MiB"
              % (negotiated, n, elapsed, n / elapsed, total, wire, wire / total, cpu / (total / 2**20)))


if __name__ == "__main__":
    main()
