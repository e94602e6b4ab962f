"""Modules the tests' experiments call (a fake fault with a file-backed 'resource')."""
