"""Telephony: talking to Twilio (or the local emulator) for SMS and voice."""
