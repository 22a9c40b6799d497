"""Channels: how a flow's output reaches a caller (TwiML) or a resident texting (SMS)."""
