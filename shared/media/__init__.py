"""Probing, classifying, hashing and naming video files."""
