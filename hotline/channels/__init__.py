"""Channels: how a flow's output reaches a caller (TwiML) or a texter (SMS text)."""
