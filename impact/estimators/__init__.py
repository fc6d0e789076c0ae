"""estimators subpackage of impact."""
