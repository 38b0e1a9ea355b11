"""The latent explorer: the test split in latent space, the probe, traversals."""
