"""Two-person rule (threat model property 12): changes that make a reader need a coordinator."""
