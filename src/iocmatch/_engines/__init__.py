"""Candidate engines: find where needles and addresses may be; verification is elsewhere."""
