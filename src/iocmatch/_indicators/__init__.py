"""Indicators: live versions, compiled patterns, attribution, breadth and allowlists -> an IndicatorSet."""
