"""The callback framing: WeCom's encryption decrypts here, round trips hold, any tampering is refused."""

from __future__ import annotations

import base64
import string
from xml.sax.saxutils import escape as xml_escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.errors import InvalidInput
from sopflow.wecom.crypto import CallbackCrypto, CallbackRefused, decode_aes_key, signature
from sopflow.wecom.xmlsafe import parse_callback_xml

from .wecom_cipher import AES_KEY, ALPHABET, TOKEN, wecom_encrypt, wecom_sign

CORP = "ww0123456789abcdef"
crypto = CallbackCrypto.create(token=TOKEN, encoding_aes_key=AES_KEY, receiver_id=CORP)


def test_a_message_encrypted_as_wecom_does_decrypts() -> None:
    message = "<xml><Content><![CDATA[你好]]></Content></xml>".encode()
    encrypted = wecom_encrypt(message, receiver=CORP)
    sig = wecom_sign(TOKEN, "1409659813", "1372623149", encrypted)
    assert crypto.open(sig, "1409659813", "1372623149", encrypted) == message


def test_the_signature_is_sha1_of_the_sorted_strings() -> None:
    # sorted: "1372623149" < "1409659813" < "QDG6eK" < "msg": the digest of their concatenation.
    import hashlib

    expected = hashlib.sha1(b"13726231491409659813QDG6eKmsg").hexdigest()
    assert signature(TOKEN, "1409659813", "1372623149", "msg") == expected


def test_sopflow_encryption_decrypts_with_the_independent_scheme() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    data = base64.b64decode(crypto.encrypt(b"hello"))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    assert len(plain) % 32 == 0 and 1 <= plain[-1] <= 32
    plain = plain[: -plain[-1]]
    assert int.from_bytes(plain[16:20], "big") == 5
    assert plain[20:25] == b"hello" and plain[25:] == CORP.encode()


keys = st.text(alphabet=ALPHABET, min_size=43, max_size=43)


@settings(max_examples=60, deadline=None)
@given(key=keys, message=st.binary(max_size=600), receiver=st.text(ALPHABET, min_size=1, max_size=40))
def test_round_trip_with_random_keys_and_messages(key: str, message: bytes, receiver: str) -> None:
    box = CallbackCrypto.create(token="t", encoding_aes_key=key, receiver_id=receiver)
    encrypted = wecom_encrypt(message, aes_key=key, receiver=receiver)
    assert box.decrypt(encrypted) == message
    assert box.decrypt(box.encrypt(message)) == message


@settings(max_examples=80, deadline=None)
@given(message=st.binary(min_size=1, max_size=300), data=st.data())
def test_tampered_callbacks_are_refused(message: bytes, data: st.DataObject) -> None:
    encrypted = wecom_encrypt(message, receiver=CORP)
    timestamp, nonce = "1409659813", "1372623149"
    sig = wecom_sign(TOKEN, timestamp, nonce, encrypted)
    raw = bytearray(base64.b64decode(encrypted))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    tampered = base64.b64encode(bytes(raw)).decode()
    what = data.draw(st.sampled_from(["ciphertext", "timestamp", "nonce"]))
    args = {
        "ciphertext": (sig, timestamp, nonce, tampered),
        "timestamp": (sig, timestamp + "1", nonce, encrypted),
        "nonce": (sig, timestamp, nonce[::-1] + "x", encrypted),
    }[what]
    with pytest.raises(CallbackRefused) as caught:
        crypto.open(*args)
    assert caught.value.reason == "bad_signature"
    # Past the signature, the framing checks still catch what CBC garbles: the padding, length or receiver
    # (a change confined to the first blocks may decrypt, which is why the signature comes first).
    try:
        crypto.decrypt(tampered)
    except CallbackRefused as exc:
        assert exc.reason in {"bad_padding", "bad_length", "wrong_corp_id"}


@settings(max_examples=60, deadline=None)
@given(
    encrypted=st.text(ALPHABET + "+/=", min_size=1, max_size=80),
    timestamp=st.text(min_size=1, max_size=12),
    nonce=st.text(min_size=1, max_size=12),
)
def test_a_forged_signature_is_refused(encrypted: str, timestamp: str, nonce: str) -> None:
    forged = signature("not-the-token", timestamp, nonce, encrypted)
    with pytest.raises(CallbackRefused) as caught:
        crypto.open(forged, timestamp, nonce, encrypted)
    assert caught.value.reason == "bad_signature"


def test_another_receiver_and_another_key_are_refused() -> None:
    encrypted = wecom_encrypt(b"<xml/>", receiver="ww-someone-else")
    with pytest.raises(CallbackRefused) as caught:
        crypto.decrypt(encrypted)
    assert caught.value.reason == "wrong_corp_id"
    other_key = "a" * 43
    encrypted = wecom_encrypt(b"<xml/>" * 20, aes_key=other_key, receiver=CORP)
    with pytest.raises(CallbackRefused) as caught:
        crypto.decrypt(encrypted)
    assert caught.value.reason in {"bad_padding", "bad_length", "wrong_corp_id"}


@pytest.mark.parametrize("text", ["", "abc", "not base64 !", "AAAA"])
def test_ciphertexts_that_are_not_whole_blocks_are_refused(text: str) -> None:
    with pytest.raises(CallbackRefused) as caught:
        crypto.decrypt(text)
    assert caught.value.reason == "bad_ciphertext"


@pytest.mark.parametrize("key", ["short", "x" * 44, "é" * 43, "!" * 43])
def test_aes_keys_must_be_43_base64_characters(key: str) -> None:
    with pytest.raises(InvalidInput, match="--aes-key"):
        decode_aes_key(key)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<xml><Encrypt>&lol2;</Encrypt></xml>",
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>',
        b"<xml><Encrypt>abc</Encrypt>",
        b"<other><Encrypt>abc</Encrypt></other>",
        b"not xml",
    ],
)
def test_unsafe_or_truncated_xml_is_refused(body: bytes) -> None:
    with pytest.raises(CallbackRefused) as caught:
        parse_callback_xml(body)
    assert caught.value.reason == "malformed_xml"


def test_the_xml_reader_keeps_fields_and_lists() -> None:
    xml = parse_callback_xml(
        b"<xml><ChatId><![CDATA[wr1]]></ChatId><MemChangeList><Item>wm1</Item><Item>wm2</Item>"
        b"</MemChangeList><CreateTime>12</CreateTime></xml>"
    )
    assert xml.get("ChatId") == "wr1" and xml.get("CreateTime") == "12"
    assert xml.lists == {"MemChangeList": ["wm1", "wm2"]}


names = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=80, deadline=None)
@given(fields=st.dictionaries(names, texts, max_size=8), cdata=st.booleans())
def test_xml_fields_round_trip(fields: dict[str, str], cdata: bool) -> None:
    def wrap(value: str) -> str:
        if cdata and "]]>" not in value:
            return f"<![CDATA[{value}]]>"
        return xml_escape(value)

    body = "<xml>" + "".join(f"<{k}>{wrap(v)}</{k}>" for k, v in fields.items()) + "</xml>"
    parsed = parse_callback_xml(body.encode())
    assert parsed.fields == fields


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_are_parsed_or_refused(data: bytes) -> None:
    try:
        parse_callback_xml(data)
    except CallbackRefused as exc:
        assert exc.reason == "malformed_xml"
