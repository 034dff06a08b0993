#!/usr/bin/env python3
"""Hostile clients against a real `oms serve`, and the service's memory after each (issue 13).

    scripts/abuse-rss.py [--oms .build/debug/oms] [--port 18181] [--data-dir /tmp/oms-abuse]

Starts `oms serve` on its own managed cluster (in --data-dir), makes an admin key, then plays each
abuse case and prints the answer it got and the service's resident memory (VmRSS of the process)
after it. Every case must leave the service answering `/health`; the script exits 1 if one does not.
Standard library only.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def request(base, path, key=None, method="GET", body=None, content_type="application/json", timeout=30):
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except Exception as error:  # connection reset, timeout: reported as such
        return None, str(error).encode()


def raw(port, data=b"", read=True, timeout=30):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(timeout)
    if data:
        connection.sendall(data)
    answer = b""
    if read:
        try:
            while b"\r\n\r\n" not in answer:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except socket.timeout:
            pass
    return connection, answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oms", default=".build/debug/oms")
    parser.add_argument("--port", type=int, default=18181)
    parser.add_argument("--data-dir", default="/tmp/oms-abuse")
    args = parser.parse_args()
    oms = os.path.abspath(args.oms)
    common = ["--data-dir", args.data_dir]
    subprocess.run([oms, "db", "start"] + common, check=True, stdout=subprocess.DEVNULL)
    url = subprocess.run([oms, "db", "url"] + common, check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([oms, "migrate"] + common, check=True, stdout=subprocess.DEVNULL)
    key = subprocess.run([oms, "keys", "create", "--scope", "admin", "--name", "abuse"] + common,
                         check=True, capture_output=True, text=True).stdout.split()[-1]
    server = subprocess.Popen([oms, "serve", "--port", str(args.port), "--idle-timeout", "5",
                               "--body-read-timeout", "5"] + common, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    for _ in range(200):
        if request(base, "/health")[0] == 200:
            break
        time.sleep(0.1)
    healthy = True

    def report(case, outcome):
        nonlocal healthy
        alive = request(base, "/health", timeout=10)[0] == 200
        healthy &= alive
        print(f"{case:<62} {outcome:<34} RSS {rss_mib(server.pid):6.1f} MiB  health {'200' if alive else 'DOWN'}")

    report("started", "-")
    # Bodies
    big, _ = raw(args.port, (f"POST /api/v1/kaifa/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                             f"Content-Type: application/xml\r\nContent-Length: {120 * 1024 * 1024}\r\n\r\n").encode(), read=False)
    sent = 0
    try:
        while sent < 120 * 1024 * 1024:
            big.sendall(b"<a>" * 65536)
            sent += 3 * 65536
    except OSError:
        pass
    answer = big.recv(100)
    big.close()
    report("a 120 MiB KAIFA body", f"{answer[:12].decode(errors='replace')} after {sent // 1048576} MiB sent")
    status, _ = request(base, "/api/v1/kaifa/events", key, "POST",
                        b'<?xml version="1.0"?><r><a\xc8m/></r>', "application/xml")
    report("an element name that is not UTF-8 (killed the service)", f"{status}")
    deep = b"<CreatedEndDeviceEvents>" + b"<a>" * 15000 + b"</a>" * 15000 + b"</CreatedEndDeviceEvents>"
    status, _ = request(base, "/api/v1/kaifa/events", key, "POST", deep, "application/xml")
    report("15,000 nested elements (killed the service)", f"{status}")
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;&c;&c;&c;</l>')
    status, _ = request(base, "/api/v1/kaifa/events", key, "POST", laughs, "application/xml")
    report("entity expansion (billion laughs)", f"{status}")
    status, _ = request(base, "/api/v1/onu/events", key, "POST", b"[" * 1000000)
    report("1,000,000 nested JSON arrays", f"{status}")
    message = json.dumps({"type": "ONU_LastGaspAlert", "onuId": "X", "timestamp": "2025-09-30T10:00:00Z"})
    status, _ = request(base, "/api/v1/onu/events", key, "POST", ("[" + ",".join([message] * 10001) + "]").encode())
    report("10,001 messages in one request", f"{status}")
    # Connections
    idle = [raw(args.port, read=False)[0] for _ in range(1000)]
    report("1,000 connections that send nothing", "open")
    time.sleep(7)
    report("... after the idle timeout (5 s)", "closed by the service")
    for connection in idle:
        connection.close()
    half = [raw(args.port, b"GET /health HTTP/1.1\r\nHost: x\r\n", read=False)[0] for _ in range(200)]
    time.sleep(7)
    report("200 half request heads, after the idle timeout", "closed by the service")
    for connection in half:
        connection.close()
    trickled = []
    for _ in range(200):
        connection, _ = raw(args.port, (f"POST /api/v1/onu/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                                        "Content-Length: 100000\r\n\r\n{").encode(), read=False)
        trickled.append(connection)
    time.sleep(7)
    answers = [connection.recv(100) for connection in trickled]
    timed_out = sum(a.startswith(b"HTTP/1.1 408") for a in answers)
    report("200 bodies trickled in, after 5 s (read and idle timeouts)", f"{timed_out} x 408, {answers.count(b'')} closed")
    for connection in trickled:
        connection.close()
    # Keys
    statuses = [request(base, "/api/v1/settings", f"oms_guess{i}")[0] for i in range(1000)]
    report("1,000 wrong keys from one address", f"{statuses.count(401)} x 401, {statuses.count(429)} x 429")
    # Streams
    streams = []
    for _ in range(1000):
        connection, _ = raw(args.port, f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        streams.append(connection)
    report("1,000 idle stream clients", "open")
    for connection in streams:
        connection.close()
    time.sleep(2)
    report("... closed by their clients", "-")
    slow, _ = raw(args.port, f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    pad = "x" * 7000
    sql = ("SELECT pg_notify('oms_events', json_build_object('type', 'abuse', 'n', g, 'pad', '%s')::text) "
           "FROM generate_series(1, 5000) g" % pad)
    subprocess.run(["psql", url, "-qc", sql], check=True, stdout=subprocess.DEVNULL)
    time.sleep(8)
    received = b""
    slow.settimeout(20)
    try:
        while True:
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        pass
    report("a stream client that reads nothing, 5,000 events of 7 KB",
           f"got {received.count(b'event: abuse')}, then {'closed' if not chunk else 'still open'}")
    slow.close()
    server.send_signal(signal.SIGINT)
    server.wait(timeout=60)
    subprocess.run([oms, "db", "stop"] + common, stdout=subprocess.DEVNULL)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
