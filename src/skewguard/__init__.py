"""skewguard: asset versioning, cache busting and version-skew protection for Python web apps."""

__version__ = "0.1.0"
