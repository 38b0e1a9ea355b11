"""QtCore workers: training, encoding and decoding off the GUI thread."""
