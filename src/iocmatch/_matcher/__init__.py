"""The Matcher: a compiled set with the ways to scan it, and the file it is saved in."""
