"""The `weights` value meaning an entry's own verified weights."""
PRETRAINED = "pretrained"
