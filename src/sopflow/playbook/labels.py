"""Display names of the playbook's fixed vocabularies, through the translation catalogs."""

from __future__ import annotations

from sopflow.i18n import N_, _

_LABELS: dict[str, dict[str, str]] = {
    "aarrr": {
        "acquisition": N_("Acquisition"),
        "activation": N_("Activation"),
        "retention": N_("Retention"),
        "revenue": N_("Revenue"),
        "referral": N_("Referral"),
    },
    "channel_kind": {
        "moments": N_("Moments"),
        "community_fission": N_("Community fission"),
        "community": N_("Community group"),
        "official_account": N_("Official account"),
        "mini_program": N_("Mini program"),
        "private_chat": N_("Private chat"),
        "paid": N_("Paid ads"),
        "offline": N_("Offline"),
        "referral": N_("Referral"),
        "email": N_("Email"),
        "other": N_("Other"),
    },
    "delivery": {
        "community_group": N_("Community group"),
        "moments": N_("Moments"),
        "private_chat": N_("Private chat"),
        "official_account": N_("Official account"),
        "mini_program": N_("Mini program"),
        "offline": N_("Offline"),
        "email": N_("Email"),
        "webhook": N_("Webhook"),
    },
    "phase": {
        "preparation": N_("Preparation"),
        "warm_up": N_("Warm-up"),
        "launch": N_("Launch"),
        "conversion": N_("Conversion"),
        "retention": N_("Retention"),
        "review": N_("Review"),
        "other": N_("Other"),
    },
    "research": {
        "user_needs": N_("User needs"),
        "past_campaigns": N_("Past campaigns"),
        "growth_goal": N_("Core growth goal and key factors"),
        "selling_point": N_("Product selling point"),
        "resource_channels": N_("Resource channels"),
        "user_scenarios": N_("User scenarios"),
        "cost_and_acquisition": N_("Cost and acquisition method"),
        "profit_model": N_("Profit model"),
    },
    "persona_kit": {
        "nickname": N_("Nickname"),
        "wechat_id": N_("WeChat ID"),
        "avatar": N_("Avatar"),
        "signature": N_("Signature"),
        "moments_cover": N_("Moments cover"),
        "moments_plan": N_("Moments plan"),
    },
    "material": {
        "poster": N_("Poster"),
        "image": N_("Image"),
        "link": N_("Link"),
        "file": N_("File"),
        "video": N_("Video"),
        "mini_program": N_("Mini program"),
        "qrcode": N_("QR code"),
        "document": N_("Document"),
    },
    "gender": {"any": N_("Any"), "female": N_("Female"), "male": N_("Male")},
}


def label(vocabulary: str, value: str) -> str:
    """The display name of ``value`` in ``vocabulary`` (e.g. ``label("aarrr", "revenue")``)."""
    source = _LABELS.get(vocabulary, {}).get(value)
    return _(source) if source else value


def vocabulary(name: str) -> dict[str, str]:
    return {value: _(source) for value, source in _LABELS[name].items()}
