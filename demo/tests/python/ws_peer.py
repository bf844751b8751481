"""python websockets as the independent peer of the permessage-deflate tests.

websockets negotiates permessage-deflate by default (compression="deflate"), as browsers do.

    ws_peer.py server          echo server on an ephemeral port: prints "listening PORT", then
                               one JSON line per connection once it has ended
    ws_peer.py client URL N    sends N text and N binary messages (JSON lines of growing size,
                               and bytes that compress), checks every echo, closes; prints one
                               JSON line
"""

import json
import sys

from websockets.sync.client import connect
from websockets.sync.server import serve


def extensions(ws):
    return [type(e).__name__ + repr(vars(e)) for e in ws.protocol.extensions]


def text(i):
    return "".join('{"seq":%d,"symbol":"ABC","price":%d.%02d,"side":"buy"}\n' % (j, 100 + j % 7, j % 100) for j in range(i * 37))


def binary(i):
    return bytes((j * 7 + i) % 13 for j in range(i * 1500))


def server():
    def handler(ws):
        count = 0
        for message in ws:
            ws.send(message)
            count += 1
        print(json.dumps({"messages": count, "extensions": extensions(ws), "close": ws.close_code}), flush=True)

    with serve(handler, "127.0.0.1", 0, max_size=None) as s:
        print("listening %d" % s.socket.getsockname()[1], flush=True)
        s.serve_forever()


def client(url, n):
    with connect(url, max_size=None) as ws:
        for i in range(n):
            for message in (text(i), binary(i)):
                ws.send(message)
                echo = ws.recv(timeout=10)
                if echo != message:
                    print(json.dumps({"ok": False, "message": i}), flush=True)
                    return 1
        exts = extensions(ws)
    print(json.dumps({"ok": True, "extensions": exts, "close": ws.close_code}), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server()
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3])))
