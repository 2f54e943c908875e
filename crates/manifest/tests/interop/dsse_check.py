"""Checks DSSE envelopes with securesystemslib's stock code paths.

    dsse_check.py verify ENVELOPE.json THRESHOLD KEY.pem [KEY.pem ...]
        Envelope.from_dict + Envelope.verify (key ids must match); exit 0 if verified.
    dsse_check.py sign PAYLOAD_FILE OUT_ENVELOPE.json OUT_KEY.pem
        signs PAYLOAD_FILE with a fresh Ed25519 key, writes the envelope and the public key.
"""

import json
import sys

from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def load_key(path):
    with open(path, "rb") as fh:
        return SSlibKey.from_crypto(serialization.load_pem_public_key(fh.read()))


def verify(envelope_path, threshold, key_paths):
    with open(envelope_path, "rb") as fh:
        envelope = Envelope.from_dict(json.load(fh))
    keys = [load_key(p) for p in key_paths]
    accepted = envelope.verify(keys, int(threshold))
    if envelope.payload_type != PAYLOAD_TYPE:
        raise SystemExit(f"unexpected payload type {envelope.payload_type!r}")
    print(json.dumps(sorted(accepted)))


def sign(payload_path, out_envelope, out_key):
    with open(payload_path, "rb") as fh:
        payload = fh.read()
    signer = CryptoSigner.generate_ed25519()
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(signer)
    with open(out_envelope, "w") as fh:
        json.dump(envelope.to_dict(), fh)
    raw = bytes.fromhex(signer.public_key.keyval["public"])
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with open(out_key, "wb") as fh:
        fh.write(pem)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "sign":
        sign(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
