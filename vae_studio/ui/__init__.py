"""Qt widgets of the VAE Studio window."""
