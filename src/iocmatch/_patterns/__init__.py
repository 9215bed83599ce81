"""STIX patterns -> comparisons (atoms in clauses), and the canonical form of each value."""
