"""One folder per framework; each folder's ``__init__`` skips it when its framework is not installed."""
