"""The engine: torch and NumPy only, no Qt. Used by the CLI and the GUI alike."""
