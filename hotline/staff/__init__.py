"""Staff: grid social workers and the supervisors of communities, streets and the district."""
