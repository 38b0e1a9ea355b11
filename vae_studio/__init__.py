"""VAE Studio: train variational autoencoders and see what they learn."""
__version__ = "0.1.0"
