#!/usr/bin/env python3
"""Make a self-signed TLS certificate and key for the web UI (``[web] tls_cert`` / ``tls_key``).

    scripts/make-cert.py --out /etc/affectra-edge --host gallery-pi.local --ip 192.168.1.50

Uses the ``cryptography`` package (``pip install affectra-edge[tls]``). The key is written with
mode 0600. Browsers will warn once about a self-signed certificate; accept it or install the
certificate on the staff devices.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import socket
import sys
from pathlib import Path


def make_pair(
    out_dir: Path, hosts: list[str], ips: list[str], days: int = 825
) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "affectra")])
    alt: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out_dir / "web-cert.pem", out_dir / "web-key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="self-signed certificate for the Affectra web UI")
    p.add_argument("--out", default=".", help="directory for web-cert.pem and web-key.pem")
    p.add_argument("--host", action="append", default=[], help="DNS name (repeatable)")
    p.add_argument("--ip", action="append", default=[], help="IP address (repeatable)")
    p.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    args = p.parse_args(argv)
    hosts = args.host or [socket.gethostname(), "localhost"]
    ips = args.ip or ["127.0.0.1"]
    try:
        for i in ips:
            ipaddress.ip_address(i)
    except ValueError as exc:
        p.error(str(exc))
    try:
        cert, key = make_pair(Path(args.out), hosts, ips, args.days)
    except ImportError:
        print(
            "make-cert: needs the 'cryptography' package (pip install cryptography)",
            file=sys.stderr,
        )
        return 1
    print(f"certificate: {cert}\nkey:         {key}")
    print(f'[web]\ntls_cert = "{cert.resolve()}"\ntls_key = "{key.resolve()}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
