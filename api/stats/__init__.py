"""Partner statistics: anonymised aggregates with disclosure control."""
