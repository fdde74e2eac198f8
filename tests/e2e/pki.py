"""Certificates for the TLS tests, made at test time with the openssl command.

make_pki(dir, net) writes, all EC P-256 and signed by "sbc test CA" unless said
(addresses are hosts of the test's blocks, harness.Net):
  ca.pem / ca.key              the CA both sides trust
  other-ca.pem / other-ca.key  an unrelated CA
  sbc.pem / sbc.key            the SBC: sbc.test, carrier host 1 (server and client auth)
  sbc2.pem / sbc2.key          the same names, CN "sbc.test rotated" (reload test)
  peer.pem / peer.key          the carrier: carrier.test, carrier hosts 2-4
  other.pem / other.key        the carrier's names, signed by other-ca
  expired.pem / expired.key    the carrier's names, valid only in 2020
  wrongname.pem / .key         wrong.test, 192.0.2.99
"""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def sbc_names(net):
    return f"DNS:sbc.test,IP:{net.carrier_sbc}"


def peer_names(net):
    return "DNS:carrier.test," + ",".join(f"IP:{net.carrier(host)}" for host in (2, 3, 4))


@dataclass
class Pki:
    dir: Path

    def __getattr__(self, name):
        # pki.sbc_pem -> dir/sbc.pem, pki.other_ca_key -> dir/other-ca.key
        stem, _, ext = name.rpartition("_")
        return self.dir / f"{stem.replace('_', '-')}.{ext}"


def _run(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.strip()}")


def _key(name, d):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", f"{name}.key", cwd=d)


def _ca(name, cn, d):
    _key(name, d)
    _run("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
         "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:true",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(name, cn, names, ca, d, dates=None):
    _key(name, d)
    _run("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
         cwd=d)
    ext = Path(d) / f"{name}.ext"
    ext.write_text(f"subjectAltName={names}\nextendedKeyUsage=serverAuth,clientAuth\n"
                   "basicConstraints=CA:false\n")
    if dates is None:
        _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "30", "-extfile", ext.name,
             cwd=d)
        return
    # OpenSSL 3.0's x509 -req cannot set a start date; `openssl ca` can.
    db = Path(d) / "ca-db"
    db.mkdir(exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    conf = Path(d) / "ca.cnf"
    conf.write_text(f"""[ca]
default_ca = test
[test]
database = {db}/index.txt
serial = {db}/serial
new_certs_dir = {db}
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
""")
    _run("ca", "-batch", "-config", conf.name, "-cert", f"{ca}.pem", "-keyfile", f"{ca}.key",
         "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext", "-extfile", ext.name,
         "-startdate", dates[0], "-enddate", dates[1], cwd=d)


def make_pki(directory, net):
    sbc, peer = sbc_names(net), peer_names(net)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _ca("ca", "sbc test CA", d)
    _ca("other-ca", "other test CA", d)
    _leaf("sbc", "sbc.test", sbc, "ca", d)
    _leaf("sbc2", "sbc.test rotated", sbc, "ca", d)
    _leaf("peer", "carrier.test", peer, "ca", d)
    _leaf("other", "carrier.test", peer, "other-ca", d)
    _leaf("expired", "carrier.test", peer, "ca", d,
          dates=("20200101000000Z", "20200201000000Z"))
    _leaf("wrongname", "wrong.test", "DNS:wrong.test,IP:192.0.2.99", "ca", d)
    return Pki(d)


def handshake(host, port, *, cert=None, key=None, ca=None, bind=None, extra=(), timeout=5.0):
    """Runs `openssl s_client` against host:port and returns (ok, output).

    ok is True only when the server accepted us: with TLS 1.3 a server refuses
    a client certificate after the client thinks the handshake is over, so the
    client sends a line and waits; a refusal shows as an alert in the output."""
    argv = ["openssl", "s_client", "-connect", f"{host}:{port}", "-brief",
            "-verify_return_error"]
    if ca:
        argv += ["-CAfile", str(ca)]
    if cert:
        argv += ["-cert", str(cert), "-key", str(key)]
    if bind:
        argv += ["-bind", f"{bind}:0"]
    argv += list(extra)  # e.g. ["-tls1_1"]: what the client offers
    # stdin stays open for a moment so the server's alert, if any, is read
    # before s_client quits on end of input.
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        proc.stdin.write("OPTIONS\r\n\r\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    time.sleep(1.0)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    proc.stdin = None  # communicate() must not touch it again
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    # A server that closes with our line unread sends a reset, which can
    # overtake its alert: the client then sees only write:errno=32 (EPIPE)
    # or read:errno=104 (ECONNRESET). That is a refusal too.
    refused = ("alert" in out or "CONNECTION ESTABLISHED" not in out
               or "errno=32" in out or "errno=104" in out)
    return not refused, out


# The cloud platforms' names (test_cloud_profiles.py): Microsoft's SIP proxies
# and the SBC's own FQDN, which the platforms find its tenant by.
MICROSOFT_PROXIES = ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com",
                     "sip3.pstnhub.microsoft.com")
SBC_FQDN = "sbc.example.test"


def make_cloud_pki(directory, net):
    """Of make_pki's files, ca, sbc and peer (the Zoom side's), and, signed by
    the same CA:
      proxy.pem / proxy.key      *.pstnhub.microsoft.com (as Microsoft's proxies present)
      sbc-fqdn.pem / .key        the SBC by its FQDN (sbc.example.test) and carrier host 1"""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _ca("ca", "sbc test CA", d)
    _leaf("sbc", "sbc.test", sbc_names(net), "ca", d)
    _leaf("peer", "carrier.test", peer_names(net), "ca", d)
    _leaf("proxy", "sip.pstnhub.microsoft.com",
          "DNS:*.pstnhub.microsoft.com,DNS:sip.pstnhub.microsoft.com", "ca", d)
    _leaf("sbc-fqdn", SBC_FQDN, f"DNS:{SBC_FQDN},IP:{net.carrier_sbc}", "ca", d)
    return Pki(d)


def make_redis_pki(directory, redis_ip):
    """The store's TLS (issue 22): ca.pem / ca.key, the Redis server's
    redis.pem / redis.key (redis.test and `redis_ip`), and the nodes' client
    certificate client.pem / client.key (sbc.test), all signed by the CA."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _ca("ca", "redis test CA", d)
    _leaf("redis", "redis.test", f"DNS:redis.test,IP:{redis_ip}", "ca", d)
    _leaf("client", "sbc.test", "DNS:sbc.test", "ca", d)
    return Pki(d)
