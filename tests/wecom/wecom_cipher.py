"""Callbacks encrypted the way WeCom's servers do it, written apart from sopflow.wecom.crypto.

From WeCom's 加解密方案说明: AESKey = Base64_Decode(EncodingAESKey + "="); the plaintext is
random(16B) + msg_len(4B, network order) + msg + receiveid, padded PKCS#7 to a multiple of 32; AES-256-CBC
with IV = AESKey[0:16]; the ciphertext in base64; msg_signature = sha1(sort(token, timestamp, nonce, msg_encrypt)).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # the example key of WeCom's docs (43 chars)
ALPHABET = string.ascii_letters + string.digits


def random_aes_key() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(43))


def wecom_encrypt(message: bytes, *, aes_key: str = AES_KEY, receiver: str) -> str:
    key = base64.b64decode(aes_key + "=")
    plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + receiver.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wecom_sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def callback_request(
    message: str, *, receiver: str, token: str = TOKEN, aes_key: str = AES_KEY, agent_id: str = "1000002"
) -> tuple[dict[str, str], bytes]:
    """(query parameters, body) of a POST WeCom would send for the inner XML ``message``."""
    encrypted = wecom_encrypt(message.encode(), aes_key=aes_key, receiver=receiver)
    timestamp, nonce = "1764979200", secrets.token_hex(5)
    query = {
        "msg_signature": wecom_sign(token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{receiver}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return query, body.encode()


def contact_event(
    change: str, *, corp: str, external: str = "wmEXT001", state: str = "", when: int = 1764979200
) -> str:
    state_xml = f"<State><![CDATA[{state}]]></State>" if state else ""
    return (
        f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{when}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change}]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
        f"<ExternalUserID><![CDATA[{external}]]></ExternalUserID>{state_xml}"
        "<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
    )


def chat_event(change: str, *, corp: str, extra: str = "", when: int = 1764979300) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{when}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[wrCHAT01]]></ChatId><ChangeType><![CDATA[{change}]]></ChangeType>{extra}</xml>"
    )
