"""The workspace model and its controllers (QtCore only, no widgets): what every panel views."""
