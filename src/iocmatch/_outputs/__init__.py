"""Writing what a scan found: text, JSON lines, ECS records, STIX sightings."""
