"""Tests of the Twilio simulator (hotline.simulator) and its click commands."""
