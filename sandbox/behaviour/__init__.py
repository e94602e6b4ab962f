"""Behaviour that moto lacks, added by wrapping moto backends in the server's process."""
