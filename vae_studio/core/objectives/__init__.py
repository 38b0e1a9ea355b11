"""Training losses of the model variants (torch); declared in ``core/variants``, one module each."""
