"""Residents: the people who call and text the hotline, one per phone number."""
