"""WeCom (企业微信): the callback receiver, the server API client, settings and channel QR-code states.

- :mod:`.crypto`: the callback message framing (signature, AES-256-CBC, receiver id);
- :mod:`.callback`: ``GET``/``POST /wecom/callback`` on ``sopflow serve``;
- :mod:`.mapping`: callback events → canonical events;
- :mod:`.client`: ``gettoken``, ``add_contact_way``/``del_contact_way``, ``message/send``;
- :mod:`.config`: settings and states kept in the app database;
- :mod:`.commands`: ``sopflow wecom configure|states|qrcode``.
"""
