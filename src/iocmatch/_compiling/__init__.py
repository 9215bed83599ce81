"""An IndicatorSet -> a compiled set: needles per kind, the engine, verification and resolution."""
