"""What every stage shares: the data passed between them, the errors, the counts of a scan."""
