"""Test-suite settings shared by every file."""

import os

from hypothesis import settings

# CI replays the same examples every run (a red build then always means a code change); locally,
# property tests keep exploring new random examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
