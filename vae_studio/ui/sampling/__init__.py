"""Sampling and interpolation: prior samples, paths between two latents, your own image."""
