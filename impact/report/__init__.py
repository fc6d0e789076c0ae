"""report subpackage of impact."""
