"""VAE Studio's resource files (icon, desktop entry, help page, demo run), installed as ``vae_studio.resources``.

No code lives here: find the files with :mod:`vae_studio.resource_paths`.
"""
