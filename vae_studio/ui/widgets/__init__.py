"""Small widgets the panels share (no panel state)."""
