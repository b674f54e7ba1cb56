"""Classical restoration methods (filled in by the classical-methods work)."""
