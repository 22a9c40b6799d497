"""The catalogue of service items, grouped by department, with their document checklists."""
