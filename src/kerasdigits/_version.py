"""The package version, read by the build backend and by ``kerasdigits.__version__``."""

#: The installed kerasdigits version.
__version__ = "0.1.0"
