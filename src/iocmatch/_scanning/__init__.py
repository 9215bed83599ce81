"""Reading logs: files, streams, gzip, blocks, long lines, following, several cores, JSON events."""
