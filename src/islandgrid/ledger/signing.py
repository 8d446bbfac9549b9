"""The signed tip: an Ed25519 signature (RFC 8032) over a chain's site, last seq, tip hash and format version.

A hash chain shows any edit of a record, but whoever holds the database can rewrite the whole chain
consistently. The site's private key, kept beside the ledger (never in a file islandgrid exports, mode
0600), signs the tip after every append; the public key, printed by ``ledger keygen``, is published, and
``ledger verify --pubkey KEY`` then accepts only a tip signed by it. The signed message is

    b"islandgrid-ledger-tip/1\\n" || "<site_id>\\n<seq>\\n<tip hash, hex>\\n<format version>" (UTF-8)

(docs/ledger.md, "Signed tip").
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from islandgrid.errors import InputError, LedgerError

#: Prefix of the signed message.
SIGN_PREFIX = b"islandgrid-ledger-tip/1\n"
#: File name of a site's private key in the key folder (``<site_id>`` + this).
KEY_SUFFIX = ".ed25519.pem"
#: File name of a site's public key (hex) in the key folder.
PUB_SUFFIX = ".ed25519.pub"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class TipSignature:
    """A stored tip signature (table ``tip_signatures``).

    Attributes
    ----------
    site_id : str
        The chain.
    seq : int
        The signed tip's seq.
    tip : bytes
        The signed tip hash [32 bytes].
    version : int
        The chain's record format.
    public_key, signature : bytes
        Raw Ed25519 public key [32 bytes] and signature [64 bytes].
    """

    site_id: str
    seq: int
    tip: bytes
    version: int
    public_key: bytes
    signature: bytes

    def message(self) -> bytes:
        """The signed bytes."""
        return tip_message(self.site_id, self.seq, self.tip, self.version)

    def valid(self) -> bool:
        """The signature verifies against the stored public key."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(self.signature, self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict[str, str | int]:
        """What an export carries (hex strings)."""
        return {
            "site_id": self.site_id,
            "seq": self.seq,
            "tip_hash": self.tip.hex(),
            "format_version": self.version,
            "signature_alg": "Ed25519",
            "public_key": self.public_key.hex(),
            "signature": self.signature.hex(),
        }


def tip_message(site_id: str, seq: int, tip: bytes, version: int) -> bytes:
    """The message a tip signature covers (module docstring)."""
    return SIGN_PREFIX + f"{site_id}\n{seq}\n{tip.hex()}\n{version}".encode()


def default_key_dir(db: str | Path) -> Path:
    """The key folder beside a ledger: ``<db>.keys``."""
    p = Path(db)
    return p.parent / f"{p.name}.keys"


def _key_file(key_dir: Path, site_id: str) -> Path:
    if not _SAFE_ID.fullmatch(site_id):
        raise InputError(
            "a site id cannot name a key file",
            field="--site-id",
            value=site_id,
            allowed="letters, digits, '.', '_', '-' (128 at most)",
            fix="sign chains whose site id is a plain name",
        )
    return key_dir / f"{site_id}{KEY_SUFFIX}"


def keygen(key_dir: Path, site_id: str) -> bytes:
    """Generate a site's key pair in ``key_dir`` (private key mode 0600, folder 0700); return the public key [32 bytes].

    Raises
    ------
    InputError
        The site already has a key (a published public key must not change silently).
    """
    path = _key_file(key_dir, site_id)
    if path.exists():
        raise InputError(
            "the site already has a signing key",
            field="--site-id",
            value=site_id,
            allowed=f"a site without {path}",
            fix="keep the key (its public key is published), or move it away to start a new one",
        )
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    enc = serialization.Encoding
    body = key.private_bytes(enc.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(enc.Raw, serialization.PublicFormat.Raw)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=key_dir)  # mkstemp creates it 0600: never readable by others
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    pub = key_dir / f"{site_id}{PUB_SUFFIX}"
    pub.write_text(public.hex() + "\n", encoding="ascii")
    return public


def load_key(key_dir: Path, site_id: str) -> Ed25519PrivateKey | None:
    """A site's private key, or None when it has none.

    Raises
    ------
    LedgerError
        The key file is readable by others than its owner, or unreadable.
    """
    if not _SAFE_ID.fullmatch(site_id):
        return None
    path = key_dir / f"{site_id}{KEY_SUFFIX}"
    if not path.is_file():
        return None
    if path.stat().st_mode & 0o077:
        raise LedgerError(f"{path}: the signing key is readable by others; run chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise LedgerError(f"{path}: not an Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(f"{path}: not an Ed25519 private key")
    return key


def sign(key: Ed25519PrivateKey, site_id: str, seq: int, tip: bytes, version: int) -> TipSignature:
    """Sign a tip."""
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = key.sign(tip_message(site_id, seq, tip, version))
    return TipSignature(site_id, seq, tip, version, public, sig)


def parse_public_key(text: str) -> bytes:
    """A published public key: 64 hex digits, a PEM block, or a file holding either; raw 32 bytes.

    Raises
    ------
    InputError
        Not a public key.
    """
    value = text.strip()
    if len(value) < 200 and not value.startswith("-----") and Path(value).is_file():
        value = Path(value).read_text(encoding="utf-8").strip()
    try:
        if value.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(value.encode("ascii"))
            if isinstance(key, Ed25519PublicKey):
                return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        elif len(value) == 64:
            return bytes.fromhex(value)
    except (ValueError, TypeError):
        pass
    raise InputError(
        "not an Ed25519 public key",
        field="--pubkey",
        value=text[:80],
        allowed="64 hex digits, a PEM public key, or a file holding one",
        fix="pass the public key 'ledger keygen' printed",
    )


def public_pem(public: bytes) -> str:
    """The PEM (SubjectPublicKeyInfo) form of a raw public key."""
    key = Ed25519PublicKey.from_public_bytes(public)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
