"""Dispatch: who calls a resident back, chosen along the region hierarchy, and how they hear."""
