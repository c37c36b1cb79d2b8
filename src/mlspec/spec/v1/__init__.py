"""Spec language version 1."""
