"""The browser view's TLS: a server context from a certificate and key, checked at start.

A certificate that a browser would refuse (expired, not yet valid, not for a server) or a key
that does not belong to it stops the run with one line, before the camera and model load,
rather than leaving every visitor with a handshake error.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pi_emotion.errors import UserError


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for ``cert`` (PEM, the chain after the certificate) and ``key`` (PEM)."""
    if bool(cert) != bool(key):
        raise UserError("--stream-tls-cert and --stream-tls-key go together: give both (or neither)")
    _check_pem(cert, "--stream-tls-cert", b"-----BEGIN CERTIFICATE-----", "no PEM certificate")
    _check_pem(key, "--stream-tls-key", b"PRIVATE KEY-----", "no PEM private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_encrypted)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise UserError(f"--stream-tls-key {key} does not belong to the certificate {cert}") from None
        raise UserError(f"--stream-tls-cert {cert} / --stream-tls-key {key} cannot be used ({exc.reason or exc})") \
            from None
    _handshake_with_itself(context, cert)
    return context


def _check_pem(path: str, flag: str, marker: bytes, missing: str) -> None:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"{flag} {path}: not found") from None
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot be read ({exc.strerror})") from None
    if marker not in data:
        raise UserError(f"{flag} {path}: {missing} in it")


def _encrypted() -> bytes:
    raise UserError("--stream-tls-key is encrypted: the service starts unattended, so give it an unencrypted key "
                    "readable only by the service user")


def _handshake_with_itself(server: ssl.SSLContext, cert: str) -> None:
    """A client trusting exactly ``cert`` connects in memory: what it refuses, a browser would refuse too."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False  # the names are the user's business; validity and purpose are checked here
    client.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the certificate itself is the trust anchor
    client.load_verify_locations(cert)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = set()
    for _ in range(8):
        for name, side, out, peer in (("client", c, c_out, s_in), ("server", s, s_out, c_in)):
            try:
                side.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as exc:
                raise UserError(f"--stream-tls-cert {cert}: {exc.verify_message}") from None
            peer.write(out.read())
        if len(done) == 2:
            return
    raise UserError(f"--stream-tls-cert {cert}: a TLS handshake with it does not complete")
