"""The canonical event: one row of the event store, the same in every way in and out.

===============  ==========================  ===================================================
column           Arrow type                  meaning
===============  ==========================  ===================================================
``event_id``     string, not null            dedupe key; derived from the content when absent
``event``        string, not null            event name (``signup``, ``pay``, ``$identify``…)
``user_id``      string, not null            distinct id of the actor (anonymous or identified)
``ts``           timestamp[us, UTC], not null when it happened
``channel``      string                      acquisition channel id of the playbook
``campaign``     string                      campaign id
``step``         string                      timeline step id (for touches)
``variant``      string                      script variant id (for A/B tests)
``inviter_id``   string                      who referred this user (fission)
``revenue``      decimal128(18, 4)           money, in ``currency``
``currency``     string                      ISO 4217 code, e.g. CNY
``properties``   string                      JSON object text of everything else
===============  ==========================  ===================================================

Identity: an event named ``$identify`` whose ``properties`` hold ``$anon_distinct_id`` links that anonymous
id to ``user_id``; analytics count persons (ids merged through these links), not raw ids.
"""

from __future__ import annotations

import pyarrow as pa

IDENTIFY_EVENT = "$identify"
ANON_ID_PROPERTY = "$anon_distinct_id"

EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("campaign", pa.string()),
        pa.field("step", pa.string()),
        pa.field("variant", pa.string()),
        pa.field("inviter_id", pa.string()),
        pa.field("revenue", pa.decimal128(18, 4)),
        pa.field("currency", pa.string()),
        pa.field("properties", pa.string()),
    ]
)

COLUMNS = tuple(EVENT_SCHEMA.names)
OPTIONAL_TEXT_COLUMNS = ("channel", "campaign", "step", "variant", "inviter_id", "currency")
