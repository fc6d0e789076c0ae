"""linear subpackage of impact."""
