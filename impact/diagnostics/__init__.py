"""Credibility diagnostics of DiD designs: what TWFE averages, pre-trends, sensitivity."""
