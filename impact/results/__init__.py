"""results subpackage of impact."""
