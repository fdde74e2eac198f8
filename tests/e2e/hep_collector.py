"""A HEP v3 collector for the e2e tests: the packets a capture server
(Homer's heplify-server) would receive, over UDP or TCP on loopback,
decoded chunk by chunk as the HEP3 specification has them. Written here
from the specification, apart from sbcd's encoder; tshark's HEP dissector
checks the same packets independently (test_capture.py)."""

import socket
import struct
import threading

CHUNK_NAMES = {1: "family", 2: "ip_protocol", 3: "src_ip", 4: "dst_ip", 5: "src_ip",
               6: "dst_ip", 7: "src_port", 8: "dst_port", 9: "seconds", 10: "microseconds",
               11: "proto_type", 12: "capture_id", 14: "password", 15: "payload",
               17: "correlation_id"}


def decode(packet):
    """One HEP3 packet as a dict of its generic chunks; raises ValueError."""
    if len(packet) < 6 or packet[:4] != b"HEP3":
        raise ValueError("not HEP3")
    total = struct.unpack("!H", packet[4:6])[0]
    if total != len(packet):
        raise ValueError(f"length {total} but {len(packet)} octets")
    out, at = {}, 6
    while at < total:
        if at + 6 > total:
            raise ValueError("truncated chunk header")
        vendor, ctype, length = struct.unpack("!HHH", packet[at:at + 6])
        if length < 6 or at + length > total:
            raise ValueError(f"chunk {ctype} overruns the packet")
        value = packet[at + 6:at + length]
        at += length
        name = CHUNK_NAMES.get(ctype) if vendor == 0 else None
        if name is None:
            continue
        if ctype in (1, 2, 11):
            out[name] = value[0]
        elif ctype in (7, 8):
            out[name] = struct.unpack("!H", value)[0]
        elif ctype in (9, 10, 12):
            out[name] = struct.unpack("!I", value)[0]
        elif ctype in (3, 4):
            out[name] = socket.inet_ntop(socket.AF_INET, value)
        elif ctype in (5, 6):
            out[name] = socket.inet_ntop(socket.AF_INET6, value)
        elif ctype == 15:
            out[name] = value
        else:
            out[name] = value.decode("utf-8", "replace")
    return out


class HepCollector:
    """Listens on (ip, port) over "udp" or "tcp" until stop(); keeps every
    packet decoded, in arrival order, and the raw ones."""

    def __init__(self, ip, port, transport="udp"):
        self.packets, self.raw, self.errors = [], [], []
        self._lock = threading.Lock()
        self._stop = False
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self._sock = socket.socket(family, kind)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((ip, port))
        self.port = self._sock.getsockname()[1]
        self._sock.settimeout(0.2)
        if transport == "tcp":
            self._sock.listen(4)
        self._thread = threading.Thread(
            target=self._udp if transport == "udp" else self._tcp, daemon=True)
        self._thread.start()

    def _keep(self, packet):
        with self._lock:
            self.raw.append(packet)
            try:
                self.packets.append(decode(packet))
            except ValueError as e:
                self.errors.append(str(e))

    def _udp(self):
        while not self._stop:
            try:
                packet, _ = self._sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self._keep(packet)

    def _tcp(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn):
        conn.settimeout(0.2)
        buf = b""
        with conn:
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while len(buf) >= 6:
                    if buf[:4] != b"HEP3":
                        self.errors.append("stream out of step")
                        return
                    total = struct.unpack("!H", buf[4:6])[0]
                    if total < 6 or len(buf) < total:
                        break
                    self._keep(buf[:total])
                    buf = buf[total:]

    def snapshot(self):
        with self._lock:
            return list(self.packets), list(self.errors)

    def stop(self):
        self._stop = True
        self._sock.close()
        self._thread.join(2.0)
