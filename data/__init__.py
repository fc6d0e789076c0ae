"""Shipped copy of the default synthetic cluster panel (package data; see README.md)."""
