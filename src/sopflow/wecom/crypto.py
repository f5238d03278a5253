"""WeCom's callback message framing (the scheme of its WXBizMsgCrypt samples), written on ``cryptography``.

As WeCom's "加解密方案说明" defines it:

- ``msg_signature`` = hex SHA-1 of the four strings token, timestamp, nonce and ciphertext, sorted and joined;
- the AES key is ``base64decode(EncodingAESKey + "=")`` (43 characters → 32 bytes, AES-256), the IV its first
  16 bytes, the mode CBC, the padding PKCS#7 to a block of **32** bytes (not AES's 16);
- the plaintext is 16 random bytes, the message length as 4 bytes big-endian, the message, and the receiver
  id (the corp id for a self-built app), and the ciphertext travels as base64.

Every check fails with :class:`CallbackRefused`, whose ``reason`` is a stable word for the log line; nothing
in it repeats the key, the token or the plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sopflow.errors import InvalidInput, SopflowError
from sopflow.i18n import _

BLOCK = 32  # WeCom pads to 32 bytes, a multiple of AES's 16-byte block
AES_KEY_CHARS = 43
_RANDOM = 16
_LENGTH = struct.Struct(">I")


class CallbackRefused(SopflowError):
    """A callback that fails the signature, decryption or receiver check; ``reason`` names which."""

    code = "wecom_callback_refused"
    http_status = 403

    def __init__(self, message: str, *, reason: str, status: int = 403) -> None:
        super().__init__(message)
        self.reason = reason
        self.http_status = status


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey; :class:`InvalidInput` if it is not one."""
    text = encoding_aes_key.strip()
    if len(text) != AES_KEY_CHARS:
        raise InvalidInput(
            _(
                "--aes-key: the EncodingAESKey has {n} characters; WeCom's has exactly 43",
                n=len(text),
            ),
            code="invalid_aes_key",
        )
    try:
        key = base64.b64decode(text + "=", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            _("--aes-key: the EncodingAESKey is not base64 (letters, digits, + and / only)"),
            code="invalid_aes_key",
        ) from None
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """WeCom's ``msg_signature`` of a ciphertext: SHA-1 of the four strings sorted and concatenated."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode("utf-8")).hexdigest()


def pkcs7_pad(data: bytes) -> bytes:
    size = BLOCK - len(data) % BLOCK
    return data + bytes([size]) * size


def pkcs7_unpad(data: bytes) -> bytes:
    size = data[-1] if data else 0
    if not 1 <= size <= BLOCK or size > len(data) or data[-size:] != bytes([size]) * size:
        raise CallbackRefused(
            _("the callback does not decrypt with this EncodingAESKey (bad padding)"), reason="bad_padding"
        )
    return data[:-size]


@dataclass(frozen=True)
class CallbackCrypto:
    """The token, AES key and receiver id of one WeCom app's callback settings."""

    token: str
    key: bytes
    receiver_id: str

    @classmethod
    def create(cls, *, token: str, encoding_aes_key: str, receiver_id: str) -> CallbackCrypto:
        return cls(token=token, key=decode_aes_key(encoding_aes_key), receiver_id=receiver_id)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature.strip().lower()):
            raise CallbackRefused(
                _("the callback's msg_signature does not match (wrong token, or a forged request)"),
                reason="bad_signature",
            )

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside ``encrypted``, after checking its padding, length and receiver id."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data or len(data) % BLOCK:
            raise CallbackRefused(
                _("the callback's ciphertext is not base64 of whole 32-byte blocks"),
                reason="bad_ciphertext",
                status=400,
            )
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < _RANDOM + _LENGTH.size:
            raise CallbackRefused(
                _("the callback's plaintext is too short to hold a message"), reason="bad_length"
            )
        (length,) = _LENGTH.unpack_from(plain, _RANDOM)
        start = _RANDOM + _LENGTH.size
        if length > len(plain) - start:
            raise CallbackRefused(
                _("the callback's message length runs past its plaintext"), reason="bad_length"
            )
        message, receiver = plain[start : start + length], plain[start + length :]
        if not hmac.compare_digest(receiver, self.receiver_id.encode("utf-8")):
            raise CallbackRefused(
                _("the callback is addressed to another receiver id than the configured corp id"),
                reason="wrong_corp_id",
            )
        return message

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bytes:
        """Verify the signature, then decrypt: the message of a genuine callback."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt(self, message: bytes, *, random: bytes | None = None) -> str:
        """The base64 ciphertext of ``message`` framed for this receiver (passive replies use it)."""
        prefix = os.urandom(_RANDOM) if random is None else random
        if len(prefix) != _RANDOM:
            raise ValueError("the random prefix has 16 bytes")
        plain = prefix + _LENGTH.pack(len(message)) + message + self.receiver_id.encode("utf-8")
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(pkcs7_pad(plain)) + encryptor.finalize()).decode("ascii")
