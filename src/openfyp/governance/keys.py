"""Ed25519 keys of a deployment: the trainer's (signs model manifests), the operator's (signs promotions)
and the overseers' public keys (their private keys never live on the deployment).

Layout under ``settings.keys_dir``::

    trainer.key  trainer.pub      # created on first training or by ``openfyp keys init``
    operator.key operator.pub     # created by ``openfyp keys init``
    overseers/<key_id>.pub        # registered public keys of the overseer(s)
    peers/<region>.pub            # operator keys of peer regions allowed to call the federation API

A key is named by its ``key_id``: the first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from openfyp.governance.canonical import sha256_hex
from openfyp.governance.errors import Conflict, InvalidInput, KeyMissing
from openfyp.settings import Settings

TRAINER = "trainer"
OPERATOR = "operator"
OVERSEER = "overseer"
PEER = "peer"


@dataclass(frozen=True)
class PublicKey:
    role: str
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return sha256_hex(self.raw)[:16]

    def pem(self) -> str:
        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def verify(self, data: bytes, signature_b64: str) -> bool:
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    role: str
    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.role, self.key.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data)).decode()


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively: an existing key is never overwritten by accident."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise Conflict("key_exists", f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def load_private_key(path: Path, role: str) -> SigningKey:
    if not path.is_file():
        raise KeyMissing(f"no {role} private key at {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("bad_key", f"{path} is not an unencrypted PEM private key: {exc}", "key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("bad_key", f"{path} is not an Ed25519 key", "key")
    return SigningKey(role, key)


def parse_public_key(pem: str | bytes, role: str) -> PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise InvalidInput("bad_key", "not a PEM public key", "public_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("bad_key", "not an Ed25519 public key", "public_key")
    return PublicKey(role, key)


def load_public_key(path: Path, role: str) -> PublicKey:
    if not path.is_file():
        raise KeyMissing(f"no {role} public key at {path}")
    return parse_public_key(path.read_bytes(), role)


def write_keypair(folder: Path, name: str, role: str) -> SigningKey:
    """A new key pair as ``folder/name.key`` (0600) and ``folder/name.pub``."""
    key = SigningKey(role, Ed25519PrivateKey.generate())
    _write_new(folder / f"{name}.key", _private_pem(key.key), 0o600)
    _write_new(folder / f"{name}.pub", key.public.pem().encode(), 0o644)
    return key


class KeyRing:
    """The keys one deployment holds."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.keys_dir

    # -- the deployment's own keys ---------------------------------------------------------------------
    def _own(self, role: str) -> SigningKey:
        return load_private_key(self.folder / f"{role}.key", role)

    def _own_public(self, role: str) -> PublicKey:
        return load_public_key(self.folder / f"{role}.pub", role)

    def has(self, role: str) -> bool:
        return (self.folder / f"{role}.key").is_file()

    def init_operator(self) -> PublicKey:
        if self.has(OPERATOR):
            raise Conflict("key_exists", f"the operator key already exists in {self.folder}")
        return write_keypair(self.folder, OPERATOR, OPERATOR).public

    def operator_key(self) -> SigningKey:
        if not self.has(OPERATOR):
            raise KeyMissing("this deployment has no operator key; run `openfyp keys init`", "operator_key_missing")
        return self._own(OPERATOR)

    def operator_public(self) -> PublicKey:
        if not (self.folder / f"{OPERATOR}.pub").is_file():
            raise KeyMissing("this deployment has no operator key; run `openfyp keys init`", "operator_key_missing")
        return self._own_public(OPERATOR)

    def trainer_key(self, *, create: bool = True) -> SigningKey:
        """The key that signs training manifests; made on first use, since training needs no ceremony."""
        if not self.has(TRAINER):
            if not create:
                raise KeyMissing("this deployment has no trainer key", "trainer_key_missing")
            try:
                return write_keypair(self.folder, TRAINER, TRAINER)
            except Conflict:  # another process made it first
                pass
        return self._own(TRAINER)

    def trainer_public(self) -> PublicKey | None:
        path = self.folder / f"{TRAINER}.pub"
        return load_public_key(path, TRAINER) if path.is_file() else None

    # -- overseers --------------------------------------------------------------------------------------
    @property
    def overseer_folder(self) -> Path:
        return self.folder / "overseers"

    def register_overseer(self, pem: str | bytes) -> PublicKey:
        public = parse_public_key(pem, OVERSEER)
        if public.key_id in {k.key_id for k in (self.own_public(OPERATOR), self.own_public(TRAINER))
                             if k is not None}:
            # The point of oversight is a second, independent party: the operator may not be its own overseer.
            raise InvalidInput("overseer_key_is_own", "an overseer key must not be one of the deployment's keys",
                               "public_key")
        path = self.overseer_folder / f"{public.key_id}.pub"
        if path.exists():
            return public
        _write_new(path, public.pem().encode(), 0o644)
        return public

    def own_public(self, role: str) -> PublicKey | None:
        """The public half of the deployment's ``role`` key (operator or trainer), if it has one."""
        path = self.folder / f"{role}.pub"
        return load_public_key(path, role) if path.is_file() else None

    def overseer_keys(self) -> dict[str, PublicKey]:
        if not self.overseer_folder.is_dir():
            return {}
        keys = {}
        for path in sorted(self.overseer_folder.glob("*.pub")):
            public = load_public_key(path, OVERSEER)
            keys[public.key_id] = public
        return keys


    # -- federation peers -------------------------------------------------------------------------------
    @property
    def peer_folder(self) -> Path:
        return self.folder / "peers"

    def register_peer(self, region: str, pem: str | bytes) -> PublicKey:
        """Trust ``region``'s operator key to sign federation requests; replaces the region's previous key."""
        public = parse_public_key(pem, PEER)
        if public.key_id in {k.key_id for k in (self.own_public(OPERATOR), self.own_public(TRAINER)) if k is not None}:
            raise InvalidInput("peer_key_is_own", "a peer region's key must not be one of this deployment's keys",
                               "public_key")
        self.peer_folder.mkdir(parents=True, exist_ok=True)
        path = self.peer_folder / f"{region}.pub"
        staged = path.with_suffix(".pub.new")
        staged.write_text(public.pem())
        os.replace(staged, path)  # a reader sees the old key or the new one, never half a file
        return public

    def peer_key(self, region: str) -> PublicKey | None:
        path = self.peer_folder / f"{region}.pub"
        return load_public_key(path, PEER) if path.is_file() else None

    def peer_regions(self) -> list[str]:
        return sorted(p.stem for p in self.peer_folder.glob("*.pub")) if self.peer_folder.is_dir() else []


def create_overseer_keypair(out_dir: Path, settings: Settings) -> tuple[Path, PublicKey]:
    """A new overseer key pair written to ``out_dir`` (outside the deployment), its public half registered.

    Returns the private key's path and the registered public key.
    """
    out_dir = out_dir.expanduser().resolve()
    keys_dir = settings.keys_dir.resolve()
    if out_dir == keys_dir or keys_dir in out_dir.parents:
        raise InvalidInput("overseer_key_inside_deployment",
                           "the overseer's private key must live outside the deployment's key folder", "out")
    signing = write_keypair(out_dir, OVERSEER, OVERSEER)
    KeyRing(settings).register_overseer(signing.public.pem())
    return out_dir / f"{OVERSEER}.key", signing.public
