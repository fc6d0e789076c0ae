"""inference subpackage of impact."""
