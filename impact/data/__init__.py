"""data subpackage of impact."""
