"""Models: the model bar and layers slider, the models dialog, downloads, the generation worker."""
