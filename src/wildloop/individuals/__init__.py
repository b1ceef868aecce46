"""Individuals: known animals, the human boxes assigned to them, re-identification
suggestions from crop vectors, and the checks that find contradictory profiles."""
