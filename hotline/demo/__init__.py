"""Demo data: the Laoshan region tree, its staff and residents, and the service catalogue."""
